package platform_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	oteltrace "go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
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
