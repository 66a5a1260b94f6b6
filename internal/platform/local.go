package platform

import (
	"context"

	"github.com/fullstorydev/grpchan"
	"github.com/fullstorydev/grpchan/inprocgrpc"
	"google.golang.org/grpc"
)

// Local is an in-process gRPC channel: the services of this process, called
// without the network but through the same server interceptors, the same
// client interceptor and the same otelgrpc stats handlers (so the same spans
// and metrics) as a call over TCP.
type Local struct {
	ch   *inprocgrpc.Channel
	conn grpc.ClientConnInterface
}

// NewLocal returns an empty in-process channel guarded as NewGRPCServer guards the network.
func NewLocal(o ServerOptions) *Local {
	unary, stream := serverInterceptors(o)
	ch := new(inprocgrpc.Channel).
		WithServerUnaryInterceptor(chainUnary(unary)).
		WithServerStreamInterceptor(chainStream(stream)).
		WithServerStatsHandler(serverStats(o.Telemetry)).
		WithClientStatsHandler(clientStats(o.Telemetry))
	return &Local{ch: ch, conn: grpchan.InterceptClientConn(ch, forwardUnary, nil)}
}

// RegisterService implements grpc.ServiceRegistrar.
func (l *Local) RegisterService(desc *grpc.ServiceDesc, impl any) { l.ch.RegisterService(desc, impl) }

// Invoke implements grpc.ClientConnInterface.
func (l *Local) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	return l.conn.Invoke(ctx, method, args, reply, opts...)
}

// NewStream implements grpc.ClientConnInterface.
func (l *Local) NewStream(ctx context.Context, desc *grpc.StreamDesc, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	return l.conn.NewStream(ctx, desc, method, opts...)
}

func chainUnary(ints []grpc.UnaryServerInterceptor) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		for i := len(ints) - 1; i >= 0; i-- {
			next, ic := h, ints[i]
			h = func(ctx context.Context, req any) (any, error) { return ic(ctx, req, info, next) }
		}
		return h(ctx, req)
	}
}

func chainStream(ints []grpc.StreamServerInterceptor) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		for i := len(ints) - 1; i >= 0; i-- {
			next, ic := h, ints[i]
			h = func(srv any, ss grpc.ServerStream) error { return ic(srv, ss, info, next) }
		}
		return h(srv, ss)
	}
}
