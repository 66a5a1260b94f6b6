package sessions_test

import (
	"context"
	"net"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/types/known/timestamppb"

	authv1 "github.com/irpgate/irpgate/gen/go/irpgate/auth/v1"
	"github.com/irpgate/irpgate/internal/sessions"
)

// fakeAuth hands out numbered tokens and records the authorization it saw.
type fakeAuth struct {
	authv1.UnimplementedAuthServiceServer
	now     func() time.Time
	gets    atomic.Int64
	refresh atomic.Int64
	auth    atomic.Value
}

func (f *fakeAuth) session(gstin, irp, tok string) *authv1.Session {
	return &authv1.Session{Gstin: gstin, Irp: irp, AuthToken: tok, Sek: make([]byte, 32), ExpireTime: timestamppb.New(f.now().Add(time.Hour))}
}

func (f *fakeAuth) GetSession(ctx context.Context, r *authv1.GetSessionRequest) (*authv1.GetSessionResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	f.auth.Store(md.Get("authorization"))
	n := f.gets.Add(1)
	return &authv1.GetSessionResponse{Session: f.session(r.GetGstin(), r.GetIrp(), "get-"+string(rune('0'+n)))}, nil
}

func (f *fakeAuth) RefreshSession(_ context.Context, r *authv1.RefreshSessionRequest) (*authv1.RefreshSessionResponse, error) {
	n := f.refresh.Add(1)
	return &authv1.RefreshSessionResponse{Session: f.session(r.GetGstin(), r.GetIrp(), "refresh-"+string(rune('0'+n)))}, nil
}

type staticCreds string

func (s staticCreds) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": string(s)}, nil
}
func (staticCreds) RequireTransportSecurity() bool { return false }

func start(t *testing.T, now func() time.Time) (*fakeAuth, *grpc.ClientConn) {
	t.Helper()
	f := &fakeAuth{now: now}
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer()
	authv1.RegisterAuthServiceServer(srv, f)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	return f, conn
}

func TestAuthSource(t *testing.T) {
	t.Run("concurrent callers share one GetSession and the cache until the margin", func(t *testing.T) {
		now := time.Now()
		clock := func() time.Time { return now }
		f, conn := start(t, clock)
		src := sessions.NewAuthSource(conn, staticCreds("Bearer svc"), sessions.WithClock(clock))
		tokens := concurrently(t, 100, func() (string, error) {
			s, err := src.Session(t.Context(), "29AAACP7879D1Z0", "NIC1")
			if err != nil {
				return "", err
			}
			return s.AuthToken, nil
		})
		require.Equal(t, slices.Repeat([]string{"get-1"}, 100), tokens)
		require.EqualValues(t, 1, f.gets.Load())
		require.Equal(t, []string{"Bearer svc"}, f.auth.Load())

		now = now.Add(56 * time.Minute) // inside the 5-minute margin
		s, err := src.Session(t.Context(), "29AAACP7879D1Z0", "NIC1")
		require.NoError(t, err)
		require.Equal(t, "get-2", s.AuthToken)
	})
	t.Run("callers reporting one rejected token cause one RefreshSession", func(t *testing.T) {
		f, conn := start(t, time.Now)
		src := sessions.NewAuthSource(conn, staticCreds("Bearer svc"))
		stale, err := src.Session(t.Context(), "29AAACP7879D1Z0", "NIC1")
		require.NoError(t, err)
		tokens := concurrently(t, 50, func() (string, error) {
			s, err := src.Refresh(t.Context(), stale)
			if err != nil {
				return "", err
			}
			return s.AuthToken, nil
		})
		require.Equal(t, slices.Repeat([]string{"refresh-1"}, 50), tokens)
		require.EqualValues(t, 1, f.refresh.Load())
	})
	t.Run("the service token replaces a forwarded caller token", func(t *testing.T) {
		f, conn := start(t, time.Now)
		src := sessions.NewAuthSource(conn, staticCreds("Bearer svc"))
		ctx := metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer end-caller")
		_, err := src.Session(ctx, "29AAACP7879D1Z0", "NIC1")
		require.NoError(t, err)
		require.Equal(t, []string{"Bearer svc"}, f.auth.Load())
	})
}

// concurrently runs f on n goroutines at once and returns their results once all are
// done; the first error fails the test, on the test's goroutine.
func concurrently(t *testing.T, n int, f func() (string, error)) []string {
	t.Helper()
	out := make([]string, n)
	var g errgroup.Group
	for i := range n {
		g.Go(func() (err error) {
			out[i], err = f()
			return err
		})
	}
	require.NoError(t, g.Wait())
	return out
}
