package platform

import (
	"context"
	"sync"
	"time"

	"github.com/fullstorydev/grpchan"
	"github.com/fullstorydev/grpchan/inprocgrpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// Local is an in-process gRPC channel: the services of this process, called
// without the network but through the same server interceptors, the same
// client interceptor and the same otelgrpc stats handlers (so the same spans
// and metrics) as a call over TCP.
//
// A unary call runs its handler on the caller's goroutine (decisions §4): grpchan's
// inprocgrpc, which carries the streams, starts a goroutine per call, and a handler that
// reaches SQLite grows that goroutine's stack from its first few KB on every call. As
// inprocgrpc does, per-RPC credentials given as a call option become metadata, and the
// handler gets a copy of the request and a context carrying the caller's deadline,
// cancellation and metadata but none of its values, and is cancelled when the call returns.
type Local struct {
	ch          *inprocgrpc.Channel
	conn        grpc.ClientConnInterface
	intercept   grpc.UnaryServerInterceptor
	serverStats stats.Handler
	clientStats stats.Handler

	mu    sync.RWMutex
	unary map[string]unaryMethod // by full method name, "/package.Service/Method"
}

type unaryMethod struct {
	impl    any
	handler grpc.MethodHandler
}

// NewLocal returns an empty in-process channel guarded as NewGRPCServer guards the network.
func NewLocal(o ServerOptions) *Local {
	unary, stream := serverInterceptors(o)
	l := &Local{
		intercept:   chainUnary(unary),
		serverStats: serverStats(o.Telemetry),
		clientStats: clientStats(o.Telemetry),
		unary:       map[string]unaryMethod{},
	}
	l.ch = new(inprocgrpc.Channel).
		WithServerUnaryInterceptor(l.intercept).
		WithServerStreamInterceptor(chainStream(stream)).
		WithServerStatsHandler(l.serverStats).
		WithClientStatsHandler(l.clientStats)
	l.conn = grpchan.InterceptClientConn(localChannel{l}, forwardUnary, nil)
	return l
}

// RegisterService implements grpc.ServiceRegistrar.
func (l *Local) RegisterService(desc *grpc.ServiceDesc, impl any) {
	l.ch.RegisterService(desc, impl)
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, m := range desc.Methods {
		l.unary["/"+desc.ServiceName+"/"+m.MethodName] = unaryMethod{impl: impl, handler: m.Handler}
	}
}

// Invoke implements grpc.ClientConnInterface.
func (l *Local) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	return l.conn.Invoke(ctx, method, args, reply, opts...)
}

// NewStream implements grpc.ClientConnInterface.
func (l *Local) NewStream(ctx context.Context, desc *grpc.StreamDesc, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	return l.conn.NewStream(ctx, desc, method, opts...)
}

// localChannel is what the client interceptor calls: unary calls on the caller's
// goroutine, streams (and unknown methods, which it answers UNIMPLEMENTED) through
// inprocgrpc.
type localChannel struct{ l *Local }

func (c localChannel) NewStream(ctx context.Context, desc *grpc.StreamDesc, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	return c.l.ch.NewStream(ctx, desc, method, opts...)
}

var localPeer = peer.Peer{Addr: localAddr{}}

type localAddr struct{}

func (localAddr) Network() string { return "inproc" }
func (localAddr) String() string  { return "0" }

func (c localChannel) Invoke(ctx context.Context, method string, req, reply any, opts ...grpc.CallOption) error {
	l := c.l
	l.mu.RLock()
	m, ok := l.unary[method]
	l.mu.RUnlock()
	if !ok {
		return l.ch.Invoke(ctx, method, req, reply, opts...)
	}
	in, ok1 := req.(proto.Message)
	out, ok2 := reply.(proto.Message)
	if !ok1 || !ok2 {
		return status.Errorf(codes.Internal, "in-process call %s: messages must be protobuf", method)
	}

	for _, o := range opts {
		if c, ok := o.(grpc.PerRPCCredsCallOption); ok {
			md, err := c.Creds.GetRequestMetadata(ctx, "inproc:0"+method)
			if err != nil {
				return status.Convert(err).Err()
			}
			for k, v := range md {
				ctx = metadata.AppendToOutgoingContext(ctx, k, v)
			}
		}
	}
	ctx = l.clientStats.TagRPC(ctx, &stats.RPCTagInfo{FullMethodName: method})
	l.clientStats.HandleRPC(ctx, &stats.Begin{Client: true, BeginTime: time.Now()})
	l.clientStats.HandleRPC(ctx, &stats.OutPayload{Client: true, Payload: req, SentTime: time.Now()})

	sts := &unaryStream{method: method}
	sctx, cancel := context.WithCancel(noValues{ctx})
	defer cancel()
	if md, ok := metadata.FromOutgoingContext(ctx); ok {
		sctx = metadata.NewIncomingContext(sctx, md)
	}
	sctx = peer.NewContext(sctx, &localPeer)
	sctx = grpc.NewContextWithServerTransportStream(sctx, sts)
	sctx = l.serverStats.TagRPC(sctx, &stats.RPCTagInfo{FullMethodName: method})
	l.serverStats.HandleRPC(sctx, &stats.Begin{BeginTime: time.Now()})
	dec := func(dst any) error {
		d, ok := dst.(proto.Message)
		if !ok {
			return status.Errorf(codes.Internal, "in-process call %s: request must be protobuf", method)
		}
		proto.Reset(d)
		proto.Merge(d, in)
		return nil
	}
	v, err := m.handler(m.impl, sctx, dec, l.intercept)
	if err == nil {
		if res, ok := v.(proto.Message); ok && res != nil && res.ProtoReflect().IsValid() {
			proto.Reset(out)
			proto.Merge(out, res)
		} else {
			err = status.Errorf(codes.Internal, "handler returned neither error nor response message")
		}
	}
	l.serverStats.HandleRPC(sctx, &stats.End{EndTime: time.Now(), Error: err})
	if _, isStatus := status.FromError(err); !isStatus && ctx.Err() != nil {
		// The caller went away or ran out of time: it gets that, as over the network.
		err = status.FromContextError(ctx.Err()).Err()
	}

	hdr, tlr := sts.finish()
	for _, o := range opts {
		switch o := o.(type) {
		case grpc.HeaderCallOption:
			*o.HeaderAddr = hdr
		case grpc.TrailerCallOption:
			*o.TrailerAddr = tlr
		case grpc.PeerCallOption:
			*o.PeerAddr = localPeer
		}
	}
	if len(hdr) > 0 {
		l.clientStats.HandleRPC(ctx, &stats.InHeader{Client: true, Header: hdr})
	}
	if err == nil {
		l.clientStats.HandleRPC(ctx, &stats.InPayload{Client: true, Payload: reply, RecvTime: time.Now()})
	}
	if len(tlr) > 0 {
		l.clientStats.HandleRPC(ctx, &stats.InTrailer{Client: true, Trailer: tlr})
	}
	l.clientStats.HandleRPC(ctx, &stats.End{Client: true, EndTime: time.Now(), Error: err})
	return err
}

// noValues passes on a context's deadline and cancellation but none of its values, so
// nothing of the caller's context leaks into the handler's (the metadata is passed on as
// incoming metadata, as over the network).
type noValues struct{ context.Context }

func (noValues) Value(any) any { return nil }

// unaryStream is the grpc.ServerTransportStream of one in-process unary call: it keeps
// the headers and trailers the handler sets, for the caller's grpc.Header and
// grpc.Trailer options.
type unaryStream struct {
	method string

	mu       sync.Mutex
	hdr, tlr metadata.MD
	done     bool
}

func (s *unaryStream) Method() string { return s.method }

func (s *unaryStream) SetHeader(md metadata.MD) error { return s.add(&s.hdr, md, "headers") }

func (s *unaryStream) SendHeader(md metadata.MD) error { return s.add(&s.hdr, md, "headers") }

func (s *unaryStream) SetTrailer(md metadata.MD) error { return s.add(&s.tlr, md, "trailers") }

// add joins md into the headers or trailers, until the call has returned.
func (s *unaryStream) add(dst *metadata.MD, md metadata.MD, what string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		return status.Errorf(codes.Internal, "%s already sent", what)
	}
	*dst = metadata.Join(*dst, md)
	return nil
}

func (s *unaryStream) finish() (hdr, tlr metadata.MD) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.done = true
	return s.hdr, s.tlr
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
