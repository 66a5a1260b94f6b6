package platform_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"

	"github.com/irpgate/irpgate/internal/platform"
)

// A service's name may resolve to several replicas (a headless Service's pods): a client
// dialled with DialOptions spreads its calls over all of them, not the first one only.
func TestDialOptionsSpreadCallsOverEveryAddress(t *testing.T) {
	tel, err := platform.NewTelemetry(t.Context(), platform.TelemetryOptions{ServiceName: "test"})
	require.NoError(t, err)
	so := platform.ServerOptions{
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Telemetry: tel,
		Auth: authFunc(func(ctx context.Context, _ string) (context.Context, error) { return ctx, nil }),
	}
	var calls [2]atomic.Int64
	var addrs []resolver.Address
	for i := range calls {
		count := grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			calls[i].Add(1)
			return h(ctx, req)
		})
		srv, hs := platform.NewGRPCServer(so, count)
		hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		go func() { _ = srv.Serve(lis) }()
		t.Cleanup(srv.Stop)
		addrs = append(addrs, resolver.Address{Addr: lis.Addr().String()})
	}

	r := manual.NewBuilderWithScheme("replicas")
	r.InitialState(resolver.State{Addresses: addrs})
	conn, err := grpc.NewClient(r.Scheme()+":///einvoice", append(platform.DialOptions(tel), grpc.WithResolvers(r))...)
	require.NoError(t, err)
	defer conn.Close()
	hc := healthpb.NewHealthClient(conn)
	call := func() bool {
		_, err := hc.Check(t.Context(), &healthpb.HealthCheckRequest{}, grpc.WaitForReady(true))
		require.NoError(t, err)
		return calls[0].Load() > 0 && calls[1].Load() > 0
	}
	// round_robin uses a replica once its connection is up; the second may come up a few
	// calls after the first. With pick_first (no service config) it never gets a call.
	require.Eventually(t, call, 10*time.Second, time.Millisecond, "a replica got no calls: %v", lazy(func() string {
		return fmt.Sprintf("%d and %d", calls[0].Load(), calls[1].Load())
	}))
	// Once both are up, calls alternate between them.
	before := [2]int64{calls[0].Load(), calls[1].Load()}
	for range 20 {
		call()
	}
	require.Equal(t, int64(10), calls[0].Load()-before[0], "replica 1's share of 20 calls")
	require.Equal(t, int64(10), calls[1].Load()-before[1], "replica 2's share of 20 calls")
}

// lazy is a failure message computed when it is printed, after the wait.
type lazy func() string

func (l lazy) String() string { return l() }
