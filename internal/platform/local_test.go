package platform_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	oteltrace "go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	einvoicev1 "github.com/irpgate/irpgate/gen/go/irpgate/einvoice/v1"
	"github.com/irpgate/irpgate/internal/platform"
)

// authFunc is a platform.Authenticator from a function.
type authFunc func(ctx context.Context, method string) (context.Context, error)

func (f authFunc) Authenticate(ctx context.Context, method string) (context.Context, error) {
	return f(ctx, method)
}

// A call through the in-process channel meets the same interceptors and stats handlers as
// one over the network: caller auth sees the caller's metadata and can refuse, the request
// id comes back in the header, and the client and server spans form one trace.
func TestLocalRunsTheServerInterceptorsAndStatsHandlers(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tel, err := platform.NewTelemetry(t.Context(), platform.TelemetryOptions{ServiceName: "test", SpanExporter: exp})
	require.NoError(t, err)
	t.Cleanup(func() { _ = tel.Shutdown(context.WithoutCancel(t.Context())) })

	var sawAuth []string
	var logs bytes.Buffer
	local := platform.NewLocal(platform.ServerOptions{
		Logger: platform.NewLogger(&logs, slog.LevelDebug), Telemetry: tel,
		Auth: authFunc(func(ctx context.Context, method string) (context.Context, error) {
			md, _ := metadata.FromIncomingContext(ctx)
			sawAuth = append(sawAuth, method+" "+first(md.Get("authorization")))
			if first(md.Get("authorization")) != "Bearer good" {
				return nil, status.Error(codes.Unauthenticated, "no")
			}
			return ctx, nil
		}),
	})
	einvoicev1.RegisterEInvoiceServiceServer(local, einvoicev1.UnimplementedEInvoiceServiceServer{})
	c := einvoicev1.NewEInvoiceServiceClient(local)

	bad := metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer bad")
	_, err = c.GetIrn(bad, &einvoicev1.GetIrnRequest{Irn: "x"})
	require.Equal(t, codes.Unauthenticated, status.Code(err), "refused by the auth interceptor before the handler")

	good := metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer good", "x-request-id", "rid-1")
	var hdr metadata.MD
	_, err = c.GetIrn(good, &einvoicev1.GetIrnRequest{Irn: "x"}, grpc.Header(&hdr))
	require.Equal(t, codes.Unimplemented, status.Code(err), "past auth, the handler answers")
	require.Equal(t, []string{"rid-1"}, hdr.Get(platform.RequestIDKey))
	require.Equal(t, []string{
		"/irpgate.einvoice.v1.EInvoiceService/GetIrn Bearer bad",
		"/irpgate.einvoice.v1.EInvoiceService/GetIrn Bearer good",
	}, sawAuth)

	// One access log line per call, with the request id and the trace id.
	var lines []map[string]any
	dec := json.NewDecoder(&logs)
	for dec.More() {
		var l map[string]any
		require.NoError(t, dec.Decode(&l))
		if l["msg"] == "finished call" {
			lines = append(lines, l)
		}
	}
	require.Len(t, lines, 2)
	require.Equal(t, "INFO", lines[0]["level"])
	require.Equal(t, "Unauthenticated", lines[0]["grpc.code"])
	require.Equal(t, "DEBUG", lines[1]["level"], "UNIMPLEMENTED is logged at debug")
	require.Equal(t, "Unimplemented", lines[1]["grpc.code"])
	require.Equal(t, "irpgate.einvoice.v1.EInvoiceService", lines[1]["grpc.service"])
	require.Equal(t, "GetIrn", lines[1]["grpc.method"])
	require.Equal(t, "rid-1", lines[1]["request_id"])
	require.NotEmpty(t, lines[1]["trace_id"])

	var client, server *tracetest.SpanStub
	for _, s := range exp.GetSpans() {
		if s.Name != "irpgate.einvoice.v1.EInvoiceService/GetIrn" {
			continue
		}
		switch s.SpanKind {
		case oteltrace.SpanKindClient:
			client = &s
		case oteltrace.SpanKindServer:
			server = &s
		default:
			// Only the RPC's two ends are compared.
		}
	}
	require.NotNil(t, client, "client span")
	require.NotNil(t, server, "server span")
	require.Equal(t, client.SpanContext.TraceID(), server.SpanContext.TraceID())
	require.Equal(t, client.SpanContext.SpanID(), server.Parent.SpanID())
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

// getIrnFunc is an EInvoiceService whose GetIrn is a function.
type getIrnFunc struct {
	einvoicev1.UnimplementedEInvoiceServiceServer
	fn func(ctx context.Context, req *einvoicev1.GetIrnRequest) (*einvoicev1.GetIrnResponse, error)
}

func (s getIrnFunc) GetIrn(ctx context.Context, req *einvoicev1.GetIrnRequest) (*einvoicev1.GetIrnResponse, error) {
	return s.fn(ctx, req)
}

func newTestLocal(t *testing.T, fn func(ctx context.Context, req *einvoicev1.GetIrnRequest) (*einvoicev1.GetIrnResponse, error)) einvoicev1.EInvoiceServiceClient {
	t.Helper()
	tel, err := platform.NewTelemetry(t.Context(), platform.TelemetryOptions{ServiceName: "test"})
	require.NoError(t, err)
	local := platform.NewLocal(platform.ServerOptions{
		Logger: platform.NewLogger(io.Discard, slog.LevelInfo), Telemetry: tel,
		Auth: authFunc(func(ctx context.Context, _ string) (context.Context, error) { return ctx, nil }),
	})
	einvoicev1.RegisterEInvoiceServiceServer(local, getIrnFunc{fn: fn})
	return einvoicev1.NewEInvoiceServiceClient(local)
}

type callerValueKey struct{}

// A unary call runs as one over the network would: the handler gets its own copy of the
// request, the caller's metadata but none of its context values, and a context that ends
// with the call; the headers and trailers it sets reach the caller, and so does its answer,
// copied too.
func TestLocalUnaryCallIsolatesCallerAndHandler(t *testing.T) {
	// What the handler saw, checked once the call has returned.
	var (
		handlerCtx  context.Context
		callerValue any
		incoming    metadata.MD
		from        *peer.Peer
		setErrs     []error
	)
	answer := &einvoicev1.GetIrnResponse{}
	c := newTestLocal(t, func(ctx context.Context, req *einvoicev1.GetIrnRequest) (*einvoicev1.GetIrnResponse, error) {
		handlerCtx, callerValue = ctx, ctx.Value(callerValueKey{})
		incoming, _ = metadata.FromIncomingContext(ctx)
		from, _ = peer.FromContext(ctx)
		setErrs = append(setErrs, grpc.SetHeader(ctx, metadata.Pairs("x-header", "h")),
			grpc.SetTrailer(ctx, metadata.Pairs("x-trailer", "t")))
		req.Irn = "changed by the handler"
		return answer, nil
	})
	ctx := context.WithValue(t.Context(), callerValueKey{}, "secret")
	ctx = metadata.AppendToOutgoingContext(ctx, "x-caller", "v")
	req := &einvoicev1.GetIrnRequest{Irn: "irn-1"}
	var hdr, tlr metadata.MD
	res, err := c.GetIrn(ctx, req, grpc.Header(&hdr), grpc.Trailer(&tlr))
	require.NoError(t, err)

	require.Nil(t, callerValue, "the caller's context values stay with the caller")
	require.Equal(t, []string{"v"}, incoming.Get("x-caller"))
	require.NotNil(t, from)
	require.Equal(t, "inproc", from.Addr.Network())
	require.Equal(t, []error{nil, nil}, setErrs)
	require.Equal(t, "irn-1", req.Irn, "the handler changed its copy of the request")
	require.NotSame(t, answer, res, "the caller gets a copy of the answer")
	require.Equal(t, []string{"h"}, hdr.Get("x-header"))
	require.Equal(t, []string{"t"}, tlr.Get("x-trailer"))
	require.ErrorIs(t, handlerCtx.Err(), context.Canceled, "the handler's context ends with the call")
	require.NoError(t, ctx.Err())
}

// The handler's error reaches the caller as it is; a caller that gave up gets CANCELED or
// DEADLINE_EXCEEDED whatever the handler made of it; a method no service has is
// UNIMPLEMENTED.
func TestLocalUnaryCallErrors(t *testing.T) {
	c := newTestLocal(t, func(ctx context.Context, req *einvoicev1.GetIrnRequest) (*einvoicev1.GetIrnResponse, error) {
		switch req.Irn {
		case "missing":
			return nil, status.Error(codes.NotFound, "no such IRN")
		case "nil":
			return nil, nil
		}
		<-ctx.Done()
		return nil, fmt.Errorf("store: %w", ctx.Err())
	})
	_, err := c.GetIrn(t.Context(), &einvoicev1.GetIrnRequest{Irn: "missing"})
	require.Equal(t, codes.NotFound, status.Code(err))
	require.Equal(t, "no such IRN", status.Convert(err).Message())

	_, err = c.GetIrn(t.Context(), &einvoicev1.GetIrnRequest{Irn: "nil"})
	require.Equal(t, codes.Internal, status.Code(err))

	ctx, cancel := context.WithTimeout(t.Context(), time.Millisecond)
	defer cancel()
	_, err = c.GetIrn(ctx, &einvoicev1.GetIrnRequest{Irn: "slow"})
	require.Equal(t, codes.DeadlineExceeded, status.Code(err), "%v", err)

	_, err = c.ListIrns(t.Context(), &einvoicev1.ListIrnsRequest{})
	require.Equal(t, codes.Unimplemented, status.Code(err))
}

// tokenCreds is per-RPC credentials that add one authorization header.
type tokenCreds string

func (c tokenCreds) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(c)}, nil
}

func (tokenCreds) RequireTransportSecurity() bool { return false }

// Per-RPC credentials given as a call option reach the handler as metadata, as over the
// network (service-to-service callers authenticate this way).
func TestLocalUnaryCallAppliesPerRPCCredentials(t *testing.T) {
	c := newTestLocal(t, func(ctx context.Context, req *einvoicev1.GetIrnRequest) (*einvoicev1.GetIrnResponse, error) {
		md, _ := metadata.FromIncomingContext(ctx)
		return &einvoicev1.GetIrnResponse{Details: &einvoicev1.IrnDetails{Irn: first(md.Get("authorization"))}}, nil
	})
	res, err := c.GetIrn(t.Context(), &einvoicev1.GetIrnRequest{Irn: "x"}, grpc.PerRPCCredentials(tokenCreds("svc-token")))
	require.NoError(t, err)
	require.Equal(t, "Bearer svc-token", res.GetDetails().GetIrn())
}
