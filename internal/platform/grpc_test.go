package platform_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"sync/atomic"
	"testing"

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
	for range 20 {
		_, err := hc.Check(t.Context(), &healthpb.HealthCheckRequest{}, grpc.WaitForReady(true))
		require.NoError(t, err)
	}
	require.Equal(t, int64(20), calls[0].Load()+calls[1].Load())
	require.Positive(t, calls[0].Load(), "replica 1 got no calls")
	require.Positive(t, calls[1].Load(), "replica 2 got no calls")
}
