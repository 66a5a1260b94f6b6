package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	oteltrace "go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/irpgate/irpgate/internal/server"
	"github.com/irpgate/irpgate/services/gateway"
	"github.com/irpgate/irpgate/services/sandbox"
)

const testAdminKey = "irpgate-test-admin-key-0123456789"

// startAll boots --target=all on loopback ports chosen by the kernel.
func startAll(t *testing.T) (*server.Server, *tracetest.InMemoryExporter) {
	t.Helper()
	cfg := server.Defaults()
	cfg.GRPCAddr, cfg.HTTPAddr, cfg.SandboxAddr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.AdminKey = testAdminKey
	exp := tracetest.NewInMemoryExporter()
	srv, err := server.Start(t.Context(), cfg, server.Options{LogOutput: io.Discard, SpanExporter: exp})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, srv.Shutdown(context.WithoutCancel(t.Context()))) })
	return srv, exp
}

func TestHealthOverGRPCAndREST(t *testing.T) {
	srv, _ := startAll(t)

	conn, err := grpc.NewClient(srv.GRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	defer conn.Close()
	resp, err := healthpb.NewHealthClient(conn).Check(t.Context(), &healthpb.HealthCheckRequest{})
	require.NoError(t, err)
	require.Equal(t, healthpb.HealthCheckResponse_SERVING, resp.GetStatus())

	res, err := http.Get("http://" + srv.HTTPAddr + "/healthz")
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.NotEmpty(t, res.Header.Get("X-Request-Id"))

	// Load balancers and probes may ask with HEAD: the same status, no body.
	head, err := http.Head("http://" + srv.HTTPAddr + "/healthz")
	require.NoError(t, err)
	defer head.Body.Close()
	require.Equal(t, http.StatusOK, head.StatusCode)
	n, err := io.Copy(io.Discard, head.Body)
	require.NoError(t, err)
	require.Zero(t, n)
}

func TestOpenAPIAndMetricsServed(t *testing.T) {
	srv, _ := startAll(t)
	res, err := http.Get("http://" + srv.HTTPAddr + "/openapi.json")
	require.NoError(t, err)
	var doc struct {
		Paths map[string]map[string]struct {
			Parameters []struct {
				Name   string         `json:"name"`
				In     string         `json:"in"`
				Schema map[string]any `json:"schema"`
			} `json:"parameters"`
		} `json:"paths"`
	}
	require.NoError(t, json.NewDecoder(res.Body).Decode(&doc))
	res.Body.Close()
	require.Contains(t, doc.Paths, "/v1/einvoice/irn")
	// The invoice is the body itself, a JSON object (not the base64 of a bytes field).
	var bodySchema map[string]any
	for _, p := range doc.Paths["/v1/einvoice/irn"]["post"].Parameters {
		if p.In == "body" {
			bodySchema = p.Schema
		}
	}
	require.Equal(t, map[string]any{"type": "object"}, bodySchema)

	res, err = http.Get("http://" + srv.HTTPAddr + "/metrics")
	require.NoError(t, err)
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Contains(t, string(body), "go_goroutines")
	require.Contains(t, string(body), `go_build_info{checksum="",path="github.com/irpgate/irpgate",version="(devel)"} 1`,
		"which build a replica runs")
	require.Regexp(t, `(?m)^einvoice_unsettled_documents\{.*\} 0$`, string(body),
		"documents whose IRP outcome is unknown, for an alert")
	require.Regexp(t, `(?m)^einvoice_irp_up\{irp="NIC1",.*\} 1$`, string(body), "each IRP's reachability, for an alert")

	// Another method on these paths is a 405 naming the ones they take, not a 404.
	for path, allow := range map[string]string{"/openapi.json": "GET, HEAD", "/metrics": "GET, HEAD", "/healthz": "GET, HEAD"} {
		res, err := http.Post("http://"+srv.HTTPAddr+path, "application/json", strings.NewReader("{}"))
		require.NoError(t, err)
		require.Equal(t, http.StatusMethodNotAllowed, res.StatusCode, path)
		require.Equal(t, allow, res.Header.Get("Allow"), path)
		require.Equal(t, "err-method-not-allowed", readEnvelope(t, res).Message, path)
		res.Body.Close()
	}
}

// One REST request makes one trace: the gateway's HTTP span is the root, the
// gRPC client span its child, the gRPC server span the client's child.
// /metrics counts REST requests by method, route template and status: one series for every
// get-by-IRN, not one per IRN.
func TestRESTMetricsByRoute(t *testing.T) {
	srv, _ := startAll(t)
	irn := strings.Repeat("ab", 32)
	for range 2 {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+srv.HTTPAddr+"/v1/einvoice/irn/"+irn, nil)
		require.NoError(t, err)
		req.Header.Set("X-Api-Key", testAdminKey)
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		res.Body.Close()
		require.Equal(t, http.StatusNotFound, res.StatusCode)
	}

	res, err := http.Get("http://" + srv.HTTPAddr + "/metrics")
	require.NoError(t, err)
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	require.NoError(t, err)
	var count string
	for line := range strings.Lines(string(body)) {
		if strings.HasPrefix(line, "http_server_request_duration_seconds_count{") &&
			strings.Contains(line, `http_route="/v1/einvoice/irn/{irn}"`) &&
			strings.Contains(line, `http_response_status_code="404"`) &&
			strings.Contains(line, `http_request_method="GET"`) {
			count = strings.TrimSpace(line[strings.LastIndexByte(line, ' '):])
		}
	}
	require.Equal(t, "2", count, "the 404s of the route, in:\n%s", body)
	require.NotContains(t, string(body), irn, "no series names the IRN")
}

func TestOneRESTRequestOneTrace(t *testing.T) {
	srv, exp := startAll(t)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+srv.HTTPAddr+"/v1/gstin/29AWGPV7107B1Z1", nil)
	require.NoError(t, err)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()

	spans := exp.GetSpans()
	var gw, client, server *tracetest.SpanStub
	for i := range spans {
		sp := &spans[i]
		switch {
		case sp.SpanKind == oteltrace.SpanKindServer && sp.Name == "GET /v1/gstin/{gstin}": // the route, not the GSTIN
			gw = sp
		case sp.SpanKind == oteltrace.SpanKindClient && sp.Name == "irpgate.gstin.v1.GstinService/GetGstinDetails":
			client = sp
		case sp.SpanKind == oteltrace.SpanKindServer && sp.Name == "irpgate.gstin.v1.GstinService/GetGstinDetails":
			server = sp
		}
	}
	require.NotNil(t, gw, "gateway span")
	require.NotNil(t, client, "gRPC client span")
	require.NotNil(t, server, "gRPC server span")
	tid := gw.SpanContext.TraceID()
	require.Equal(t, tid, client.SpanContext.TraceID())
	require.Equal(t, tid, server.SpanContext.TraceID())
	require.Equal(t, gw.SpanContext.SpanID(), client.Parent.SpanID())
	require.Equal(t, client.SpanContext.SpanID(), server.Parent.SpanID())
}

func TestUnknownTargetRefused(t *testing.T) {
	cfg := server.Defaults()
	cfg.Target = "auth,billing"
	_, err := server.Start(t.Context(), cfg, server.Options{LogOutput: io.Discard})
	require.ErrorContains(t, err, `unknown role "billing"`)
}

// RPCs not built yet answer 501 in the enriched envelope, with a request id.
func TestUnbuiltRouteAnswers501Envelope(t *testing.T) {
	srv, _ := startAll(t)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+srv.HTTPAddr+"/v1/ewaybill/irn/abc", nil)
	require.NoError(t, err)
	req.Header.Set("X-Api-Key", testAdminKey)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, http.StatusNotImplemented, res.StatusCode)
	require.NotEmpty(t, res.Header.Get("X-Request-Id"))
	require.Equal(t, "err-not-implemented", readEnvelope(t, res).Message)
}

// envelopeError is the "error" object of the REST error envelope.
type envelopeError struct {
	Message string         `json:"message"`
	Type    string         `json:"type"`
	Args    map[string]any `json:"args"`
}

func readEnvelope(t *testing.T, res *http.Response) envelopeError {
	t.Helper()
	var body struct {
		Error envelopeError `json:"error"`
	}
	require.NoError(t, json.NewDecoder(res.Body).Decode(&body))
	return body.Error
}

// Without an API key or token, or with one that is not known, service routes answer 401
// in the envelope, with the challenge RFC 9110 asks of a 401.
func TestRESTWithoutCredentialsIs401(t *testing.T) {
	srv, _ := startAll(t)
	for name, hdr := range map[string][2]string{
		"none":            {},
		"unknown API key": {"X-Api-Key", "irpg_not-a-key-of-this-server"},
		"bad token":       {"Authorization", "Bearer not-a-token"},
	} {
		t.Run(name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+srv.HTTPAddr+"/v1/auth/credentials", nil)
			require.NoError(t, err)
			if hdr[0] != "" {
				req.Header.Set(hdr[0], hdr[1])
			}
			res, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer res.Body.Close()
			require.Equal(t, http.StatusUnauthorized, res.StatusCode)
			require.Equal(t, `Bearer realm="irpgate"`, res.Header.Get("WWW-Authenticate"))
			require.Equal(t, "err-unauthenticated", readEnvelope(t, res).Message)
		})
	}
}

// A REST body over the limit is refused with 413 in the envelope, before any service sees it,
// whether the body declares its length or comes chunked.
func TestRESTBodyTooLarge(t *testing.T) {
	srv, _ := startAll(t)
	big := `{"x":"` + strings.Repeat("a", gateway.MaxBodyBytes) + `"}`
	for name, body := range map[string]io.Reader{
		"Content-Length": strings.NewReader(big),
		"chunked":        io.MultiReader(strings.NewReader(big)), // unknown length: sent chunked
	} {
		t.Run(name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, "http://"+srv.HTTPAddr+"/v1/einvoice/irn", body)
			require.NoError(t, err)
			require.Equal(t, name == "chunked", req.ContentLength == 0)
			req.Header.Set("X-Api-Key", testAdminKey)
			res, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer res.Body.Close()
			require.Equal(t, http.StatusRequestEntityTooLarge, res.StatusCode)
			require.NotEmpty(t, res.Header.Get("X-Request-Id"))
			env := readEnvelope(t, res)
			require.Equal(t, "err-request-too-large", env.Message)
			require.EqualValues(t, gateway.MaxBodyBytes, env.Args["limitBytes"])
		})
	}
}

// A gateway without an address for e-way bills and GSTINs still starts; their routes
// answer 503 naming the flag to set, and the rest works.
func TestGatewayWithoutOptionalServices(t *testing.T) {
	svc := startE2ETarget(t, "auth,einvoice,sandbox", "", nil)
	cfg := server.Defaults()
	cfg.Target = "gateway"
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.AuthAddr, cfg.EInvoiceAddr = svc.srv.GRPCAddr, svc.srv.GRPCAddr
	gw, err := server.Start(t.Context(), cfg, server.Options{LogOutput: io.Discard})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, gw.Shutdown(context.WithoutCancel(t.Context()))) })

	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+gw.HTTPAddr+"/v1/gstin/29AWGPV7107B1Z1", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+svc.seller)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	require.Equal(t, http.StatusServiceUnavailable, res.StatusCode, "%s", body)
	require.Contains(t, string(body), "--gstin-addr")

	res, err = http.Get("http://" + gw.HTTPAddr + "/healthz")
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)

	// Without the einvoice address the gateway does not start.
	cfg.EInvoiceAddr = ""
	_, err = server.Start(t.Context(), cfg, server.Options{LogOutput: io.Discard})
	require.ErrorContains(t, err, "einvoice-addr")
}

// `irpgate serve --target=sandbox` takes the sandbox's flags: its faults, its admin API, NIC2
// on a port of its own; a value it cannot apply stops the start, naming the flag.
func TestSandboxRoleFlags(t *testing.T) {
	start := func(t *testing.T, edit func(*server.Config)) (*server.Server, error) {
		cfg := server.Defaults()
		cfg.Target = "sandbox"
		cfg.SandboxAddr, cfg.DataDir = "127.0.0.1:0", t.TempDir()
		edit(&cfg)
		srv, err := server.Start(t.Context(), cfg, server.Options{LogOutput: io.Discard})
		if err == nil {
			t.Cleanup(func() { require.NoError(t, srv.Shutdown(context.WithoutCancel(t.Context()))) })
		}
		return srv, err
	}
	get := func(t *testing.T, u string) (int, []byte) {
		res, err := http.Get(u)
		require.NoError(t, err)
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		return res.StatusCode, b
	}

	srv, err := start(t, func(c *server.Config) {
		c.SandboxNIC2Addr = "127.0.0.1:0"
		c.SandboxErrorRate, c.SandboxAnswerLostRate, c.SandboxRateLimit = 0.25, 0.5, 20
		c.SandboxLatency = 3 * time.Millisecond
	})
	require.NoError(t, err)
	code, body := get(t, srv.SandboxURL+"/sandbox/admin/faults")
	require.Equal(t, http.StatusOK, code)
	var f sandbox.Faults
	require.NoError(t, json.Unmarshal(body, &f))
	require.Equal(t, sandbox.Faults{
		ErrorRate: 0.25, AnswerLostRate: 0.5, RateLimit: 20,
		Latency: sandbox.Latency{Base: 3 * time.Millisecond},
	}, f)
	require.NotEmpty(t, srv.SandboxNIC2URL)
	code, body = get(t, srv.SandboxNIC2URL+"/sandbox/publickeys")
	require.Equal(t, http.StatusOK, code, "%s", body)
	require.Contains(t, string(body), "SigningCertificate")

	srv, err = start(t, func(c *server.Config) { c.SandboxAdmin = false })
	require.NoError(t, err)
	require.Empty(t, srv.SandboxNIC2URL)
	code, _ = get(t, srv.SandboxURL+"/sandbox/admin/faults")
	require.Equal(t, http.StatusNotFound, code)

	_, err = start(t, func(c *server.Config) { c.SandboxErrorRate = 30 })
	require.ErrorContains(t, err, "sandbox-error-rate: 30 is not a probability")
}
