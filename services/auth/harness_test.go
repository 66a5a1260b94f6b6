package auth_test

import (
	"context"
	"crypto/rsa"
	"log/slog"
	"net"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	authv1 "github.com/irpgate/irpgate/gen/go/irpgate/auth/v1"
	"github.com/irpgate/irpgate/internal/callerauth"
	"github.com/irpgate/irpgate/internal/platform"
	"github.com/irpgate/irpgate/internal/proctest"
	"github.com/irpgate/irpgate/internal/store"
	"github.com/irpgate/irpgate/pkg/irpclient"
	"github.com/irpgate/irpgate/services/auth"
	"github.com/irpgate/irpgate/services/sandbox"
	"github.com/irpgate/irpgate/services/sandbox/sandboxtest"
)

const testAdminKey = "test-admin-key-0123456789abcdef"

// harness is the auth service behind a real gRPC server on 127.0.0.1, with
// the platform interceptors and its caller-auth verifier installed.
type harness struct {
	sb      *sandboxtest.Server
	db      *store.DB
	dataDir string
	svc     *auth.Service
	client  authv1.AuthServiceClient
	conn    *grpc.ClientConn
	logs    *proctest.Output
	spans   *tracetest.InMemoryExporter
	stop    func()
}

type harnessOption = func(*auth.Config)

func startAuth(t *testing.T, db *store.DB, sb *sandboxtest.Server, dataDir string, opts ...harnessOption) *harness {
	t.Helper()
	ctx := t.Context()
	h := &harness{sb: sb, db: db, dataDir: dataDir, logs: &proctest.Output{}, spans: tracetest.NewInMemoryExporter()}
	log := slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	tel, err := platform.NewTelemetry(ctx, platform.TelemetryOptions{ServiceName: "auth-test", SpanExporter: h.spans})
	require.NoError(t, err)
	pub := sb.PublicKey()
	irp, err := irpclient.New(irpclient.Config{
		BaseURLs:   map[string]string{irpclient.Sandbox: sb.URL, irpclient.NIC1: sb.URL, irpclient.NIC2: sb.NIC2URL},
		DefaultIRP: irpclient.Sandbox,
		PublicKeys: map[string]*rsa.PublicKey{irpclient.Sandbox: pub, irpclient.NIC1: pub, irpclient.NIC2: pub},
		MaxRetries: -1, TracerProvider: tel.Tracer, MeterProvider: tel.Meter, Logger: log,
	})
	require.NoError(t, err)
	cfg := auth.Config{
		DB: db, IRP: irp, DataDir: dataDir, AdminKey: testAdminKey,
		Now: sb.Clock.Now, Logger: log, TracerProvider: tel.Tracer,
	}
	for _, o := range opts {
		o(&cfg)
	}
	svc, err := auth.New(ctx, cfg)
	require.NoError(t, err)
	h.svc = svc

	srv, _ := platform.NewGRPCServer(platform.ServerOptions{Logger: log, Telemetry: tel, Auth: svc.Verifier()})
	svc.Register(srv)
	srv.RegisterService(&actorDesc, struct{}{})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	served := make(chan struct{})
	go func() { defer close(served); _ = srv.Serve(lis) }()
	conn, err := grpc.NewClient(lis.Addr().String(), platform.DialOptions(tel)...)
	require.NoError(t, err)
	h.conn, h.client = conn, authv1.NewAuthServiceClient(conn)
	var once sync.Once
	h.stop = func() {
		once.Do(func() {
			_ = conn.Close()
			srv.Stop()
			<-served
			_ = tel.Shutdown(context.WithoutCancel(ctx))
		})
	}
	t.Cleanup(h.stop)
	return h
}

// withToken returns ctx carrying "authorization: Bearer <token>".
func withToken(ctx context.Context, token string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
}

func (h *harness) token(t *testing.T, apiKey string) string {
	t.Helper()
	resp, err := h.client.IssueToken(t.Context(), &authv1.IssueTokenRequest{ApiKey: apiKey})
	require.NoError(t, err)
	return resp.GetAccessToken()
}

func (h *harness) admin(t *testing.T) context.Context {
	t.Helper()
	return withToken(t.Context(), h.token(t, testAdminKey))
}

// asService is the call option of a service (einvoice) calling auth.
func (h *harness) asService() grpc.CallOption {
	return grpc.PerRPCCredentials(callerauth.ServiceCredentials(h.svc.ServiceKey(), "einvoice"))
}

func (h *harness) register(t *testing.T, u sandbox.User) {
	t.Helper()
	_, err := h.client.RegisterCredential(h.admin(t), &authv1.RegisterCredentialRequest{
		Gstin: u.GSTIN, Irp: irpclient.Sandbox, ClientId: u.ClientID, ClientSecret: u.ClientSecret,
		Username: u.UserName, Password: u.Password,
	})
	require.NoError(t, err)
}

func (h *harness) authCalls(gstin string) int64 {
	return h.sb.Stats().AuthCallsByGSTIN[gstin]
}

// enabledUsers are sandbox API users that can authenticate.
func enabledUsers(t *testing.T, sb *sandboxtest.Server, n int) []sandbox.User {
	t.Helper()
	users := sb.Users()[:n]
	require.Len(t, users, n)
	return users
}

func errorInfo(t *testing.T, err error) *errdetails.ErrorInfo {
	t.Helper()
	st, ok := status.FromError(err)
	require.True(t, ok, "not a status: %v", err)
	for _, d := range st.Details() {
		if ei, ok := d.(*errdetails.ErrorInfo); ok {
			return ei
		}
	}
	t.Fatalf("no ErrorInfo in %v", err)
	return nil
}

// actorDesc is a stand-in for einvoice: one RPC that acts for a GSTIN and
// checks the caller first, as every service must.
var actorDesc = grpc.ServiceDesc{
	ServiceName: "irpgate.test.Actor",
	HandlerType: (*any)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "Act",
		Handler: func(srv any, ctx context.Context, dec func(any) error, ic grpc.UnaryServerInterceptor) (any, error) {
			in := new(wrapperspb.StringValue)
			if err := dec(in); err != nil {
				return nil, err
			}
			h := func(ctx context.Context, req any) (any, error) {
				if err := callerauth.RequireGSTIN(ctx, req.(*wrapperspb.StringValue).GetValue()); err != nil {
					return nil, err
				}
				return &emptypb.Empty{}, nil
			}
			if ic == nil {
				return h(ctx, in)
			}
			return ic(ctx, in, &grpc.UnaryServerInfo{Server: srv, FullMethod: "/irpgate.test.Actor/Act"}, h)
		},
	}},
}

func act(ctx context.Context, conn *grpc.ClientConn, gstin string) error {
	return conn.Invoke(ctx, "/irpgate.test.Actor/Act", wrapperspb.String(gstin), &emptypb.Empty{})
}

type authConfig = auth.Config

func grpcPerRPC(c credentials.PerRPCCredentials) grpc.CallOption { return grpc.PerRPCCredentials(c) }

func withAPIKey(ctx context.Context, key string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, auth.APIKeyHeader, key)
}
