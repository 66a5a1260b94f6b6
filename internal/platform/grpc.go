package platform

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"runtime/debug"
	"strings"
	"time"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/propagation"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	// Registers gzip, so callers may send compressed requests (grpc.UseCompressor("gzip"));
	// the server answers them compressed alike.
	_ "google.golang.org/grpc/encoding/gzip"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"
)

// RequestIDKey is the gRPC metadata key (and, on REST, the header) carrying
// the request id.
const RequestIDKey = "x-request-id"

// Authenticator checks the caller of an RPC and returns a context carrying
// who it is. Implemented by the caller-auth verifier of services/auth.
type Authenticator interface {
	Authenticate(ctx context.Context, fullMethod string) (context.Context, error)
}

// ServerOptions configures NewGRPCServer.
type ServerOptions struct {
	Logger    *slog.Logger
	Telemetry *Telemetry
	Auth      Authenticator // nil: no caller authentication
}

// NewGRPCServer builds a gRPC server with irpgate's fixed interceptor order:
//
//  1. otelgrpc stats handler (health checks are not traced),
//  2. request id (taken from metadata or made, echoed in the header),
//  3. logging (slog JSON with trace_id; health at debug),
//  4. caller authentication (health and reflection skipped),
//  5. recovery, innermost, answering Internal without the panic's text.
//
// Health (starting NOT_SERVING) and reflection are registered.
func NewGRPCServer(o ServerOptions, extra ...grpc.ServerOption) (*grpc.Server, *health.Server) {
	unary, stream := serverInterceptors(o)
	opts := []grpc.ServerOption{
		grpc.StatsHandler(serverStats(o.Telemetry)),
		grpc.ChainUnaryInterceptor(unary...),
		grpc.ChainStreamInterceptor(stream...),
		// Clients reconnect now and then, and so re-resolve the service's name: replicas
		// added since (a headless Service lists each pod) get their share of the calls.
		grpc.KeepaliveParams(keepalive.ServerParameters{MaxConnectionAge: MaxConnectionAge, MaxConnectionAgeGrace: time.Minute}),
	}
	srv := grpc.NewServer(append(opts, extra...)...)
	hs := health.NewServer()
	hs.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	healthpb.RegisterHealthServer(srv, hs)
	reflection.Register(srv)
	return srv, hs
}

// MaxConnectionAge is how long a client's connection to a NewGRPCServer lasts before the
// server asks it to reconnect (in-flight calls get a minute more to finish).
const MaxConnectionAge = 5 * time.Minute

// serverInterceptors are the interceptors of NewGRPCServer, in order.
func serverInterceptors(o ServerOptions) ([]grpc.UnaryServerInterceptor, []grpc.StreamServerInterceptor) {
	log := o.Logger
	recoverOpt := recovery.WithRecoveryHandlerContext(func(ctx context.Context, p any) error {
		log.ErrorContext(ctx, "panic in handler", "panic", p, "stack", string(debug.Stack()))
		return status.Error(codes.Internal, "internal error")
	})
	unary := []grpc.UnaryServerInterceptor{
		requestIDUnary,
		logUnary(log),
	}
	stream := []grpc.StreamServerInterceptor{
		logStream(log),
	}
	if o.Auth != nil {
		unary = append(unary, authUnary(o.Auth))
		stream = append(stream, authStream(o.Auth))
	}
	unary = append(unary, recovery.UnaryServerInterceptor(recoverOpt))
	stream = append(stream, recovery.StreamServerInterceptor(recoverOpt))
	return unary, stream
}

func serverStats(t *Telemetry) stats.Handler {
	return otelgrpc.NewServerHandler(
		otelgrpc.WithTracerProvider(t.Tracer),
		otelgrpc.WithMeterProvider(t.Meter),
		otelgrpc.WithPropagators(propagation.TraceContext{}),
		otelgrpc.WithFilter(func(info *stats.RPCTagInfo) bool { return !isInfraMethod(info.FullMethodName) }),
	)
}

func clientStats(t *Telemetry) stats.Handler {
	return otelgrpc.NewClientHandler(
		otelgrpc.WithTracerProvider(t.Tracer),
		otelgrpc.WithMeterProvider(t.Meter),
		otelgrpc.WithPropagators(propagation.TraceContext{}),
	)
}

// DialOptions are the options of every gRPC client irpgate makes, between
// its own services too, so traces and request ids cross every hop.
func DialOptions(t *Telemetry) []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		// Every address the name resolves to takes calls in turn: a headless Service's pods.
		grpc.WithDefaultServiceConfig(`{"loadBalancingConfig":[{"round_robin":{}}]}`),
		grpc.WithStatsHandler(clientStats(t)),
		grpc.WithChainUnaryInterceptor(forwardUnary),
	}
}

// forwardUnary passes the request id and the caller's credentials on to the
// next service, so one caller identity and one request id span every hop.
func forwardUnary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		for _, k := range []string{RequestIDKey, "authorization"} {
			if v := md.Get(k); len(v) > 0 {
				if out, _ := metadata.FromOutgoingContext(ctx); len(out.Get(k)) == 0 {
					ctx = metadata.AppendToOutgoingContext(ctx, k, v[0])
				}
			}
		}
	}
	return invoker(ctx, method, req, reply, cc, opts...)
}

func isInfraMethod(m string) bool {
	return strings.HasPrefix(m, "/grpc.health.") || strings.HasPrefix(m, "/grpc.reflection.")
}

// logLevel is the level of an RPC's access log line: refusals the caller
// caused are info, UNIMPLEMENTED debug, the rest error; health and reflection
// calls are always debug.
func logLevel(method string, c codes.Code) slog.Level {
	if isInfraMethod(method) {
		return slog.LevelDebug
	}
	switch c {
	case codes.OK, codes.NotFound, codes.InvalidArgument, codes.AlreadyExists, codes.PermissionDenied, codes.Unauthenticated, codes.FailedPrecondition:
		return slog.LevelInfo
	case codes.Unimplemented:
		return slog.LevelDebug
	default:
		return slog.LevelError
	}
}

// logUnary writes one access log line per finished unary RPC (trace and
// request ids are added by the logger's handler from ctx).
func logUnary(log *slog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		start := time.Now()
		resp, err := h(ctx, req)
		logCall(ctx, log, info.FullMethod, "unary", start, err)
		return resp, err
	}
}

func logStream(log *slog.Logger) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		start := time.Now()
		err := h(srv, ss)
		kind := "server_stream"
		switch {
		case info.IsClientStream && info.IsServerStream:
			kind = "bidi_stream"
		case info.IsClientStream:
			kind = "client_stream"
		}
		logCall(ss.Context(), log, info.FullMethod, kind, start, err)
		return err
	}
}

func logCall(ctx context.Context, log *slog.Logger, method, kind string, start time.Time, err error) {
	code := status.Code(err)
	lvl := logLevel(method, code)
	if !log.Enabled(ctx, lvl) {
		return
	}
	service, name, _ := strings.Cut(strings.TrimPrefix(method, "/"), "/")
	attrs := []slog.Attr{
		slog.String("protocol", "grpc"),
		slog.String("grpc.component", "server"),
		slog.String("grpc.service", service),
		slog.String("grpc.method", name),
		slog.String("grpc.method_type", kind),
		slog.String("grpc.code", code.String()),
		slog.Float64("grpc.time_ms", float64(time.Since(start).Microseconds())/1000),
	}
	if err != nil {
		attrs = append(attrs, slog.String("grpc.error", status.Convert(err).Message()))
	}
	log.LogAttrs(ctx, lvl, "finished call", attrs...)
}

type requestIDKey struct{}

// RequestID returns the request id of the RPC in ctx.
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

func requestIDUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	id := ""
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		if v := md.Get(RequestIDKey); len(v) > 0 && len(v[0]) <= 128 {
			id = v[0]
		}
	}
	if id == "" {
		id = NewRequestID()
	}
	_ = grpc.SetHeader(ctx, metadata.Pairs(RequestIDKey, id))
	ctx = context.WithValue(ctx, requestIDKey{}, id)
	return h(ctx, req)
}

// NewRequestID returns 16 random bytes in hex.
func NewRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func authUnary(a Authenticator) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		if isInfraMethod(info.FullMethod) {
			return h(ctx, req)
		}
		ctx, err := a.Authenticate(ctx, info.FullMethod)
		if err != nil {
			return nil, err
		}
		return h(ctx, req)
	}
}

func authStream(a Authenticator) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		if isInfraMethod(info.FullMethod) {
			return h(srv, ss)
		}
		if _, err := a.Authenticate(ss.Context(), info.FullMethod); err != nil {
			return err
		}
		return h(srv, ss)
	}
}
