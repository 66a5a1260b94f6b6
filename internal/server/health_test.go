package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/irpgate/irpgate/internal/server"
	"github.com/irpgate/irpgate/internal/store/storetest"
)

type servicesBody struct {
	Status   string            `json:"status"`
	Services map[string]string `json:"services"`
}

func getServices(t *testing.T, base string) (int, servicesBody) {
	t.Helper()
	res, err := http.Get(base + "/healthz/services")
	require.NoError(t, err)
	defer res.Body.Close()
	var b servicesBody
	raw, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &b), "%s", raw)
	return res.StatusCode, b
}

// When PostgreSQL stops answering, auth and einvoice turn NOT_SERVING (gRPC health by
// service name, and /healthz/services 503 naming them) while the process stays live (/healthz, gRPC
// health ""); when it answers again, so do they.
func TestServiceHealthFollowsTheDatabase(t *testing.T) {
	dbURL, outage := storetest.ThroughProxy(t, postgresURL(t))
	cfg := server.Defaults()
	cfg.GRPCAddr, cfg.HTTPAddr, cfg.SandboxAddr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cfg.DataDir, cfg.DatabaseURL, cfg.AdminKey = t.TempDir(), dbURL, e2eAdminKey
	cfg.HealthInterval = 20 * time.Millisecond
	srv, err := server.Start(t.Context(), cfg, server.Options{LogOutput: io.Discard})
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Shutdown(context.WithoutCancel(t.Context())) })
	base := "http://" + srv.HTTPAddr
	conn, err := grpc.NewClient(srv.GRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	health := healthpb.NewHealthClient(conn)
	grpcStatus := func(service string) healthpb.HealthCheckResponse_ServingStatus {
		res, err := health.Check(t.Context(), &healthpb.HealthCheckRequest{Service: service})
		require.NoError(t, err)
		return res.GetStatus()
	}
	const einvoiceSvc, authSvc = "irpgate.einvoice.v1.EInvoiceService", "irpgate.auth.v1.AuthService"

	code, b := getServices(t, base)
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, servicesBody{Status: "SERVING", Services: map[string]string{einvoiceSvc: "SERVING", authSvc: "SERVING"}}, b)

	outage.Start()
	require.Eventually(t, func() bool {
		code, _ := getServices(t, base)
		return code == http.StatusServiceUnavailable
	}, 10*time.Second, 10*time.Millisecond)
	_, b = getServices(t, base)
	require.Equal(t, servicesBody{Status: "NOT_SERVING", Services: map[string]string{einvoiceSvc: "NOT_SERVING", authSvc: "NOT_SERVING"}}, b)
	require.Equal(t, healthpb.HealthCheckResponse_NOT_SERVING, grpcStatus(einvoiceSvc))
	require.Equal(t, healthpb.HealthCheckResponse_SERVING, grpcStatus(""), "the process stays live")
	res, err := http.Get(base + "/healthz")
	require.NoError(t, err)
	require.NoError(t, res.Body.Close())
	require.Equal(t, http.StatusOK, res.StatusCode)

	outage.End()
	require.Eventually(t, func() bool {
		code, _ := getServices(t, base)
		return code == http.StatusOK
	}, 10*time.Second, 10*time.Millisecond)
	require.Equal(t, healthpb.HealthCheckResponse_SERVING, grpcStatus(authSvc))
}

// A gateway whose einvoice runs elsewhere asks that process; one that cannot reach it
// is not ready, and says why by gRPC code without naming the address.
func TestServiceHealthOfASplitGateway(t *testing.T) {
	cfg := server.Defaults()
	cfg.Target = "gateway,auth,sandbox"
	cfg.GRPCAddr, cfg.HTTPAddr, cfg.SandboxAddr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cfg.DataDir, cfg.AdminKey = t.TempDir(), e2eAdminKey
	cfg.EInvoiceAddr = "127.0.0.1:1" // nothing listens there
	srv, err := server.Start(t.Context(), cfg, server.Options{LogOutput: io.Discard})
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Shutdown(context.WithoutCancel(t.Context())) })

	code, b := getServices(t, "http://"+srv.HTTPAddr)
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Equal(t, "SERVING", b.Services["irpgate.auth.v1.AuthService"])
	require.Equal(t, "UNREACHABLE: Unavailable", b.Services["irpgate.einvoice.v1.EInvoiceService"],
		"the code only: the unauthenticated body never names an internal address")
}

// httpGet answers the status and body of a GET.
func httpGet(t testing.TB, u string) (int, string) {
	t.Helper()
	res, err := http.Get(u)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res.StatusCode, string(b)
}

// A process without the gateway (one Deployment of a split install) still answers probes
// and scrapes on --http-addr: its own gRPC health as /healthz, its metrics (the IRP calls
// its services make) as /metrics; no REST routes. Without --http-addr it listens on nothing.
func TestProbesAndMetricsWithoutTheGateway(t *testing.T) {
	e := startE2ESplit(t, tracetest.NewInMemoryExporter())
	ops := "http://" + e.srv.HTTPAddr
	code, body := httpGet(t, ops+"/healthz")
	require.Equal(t, http.StatusOK, code, body)
	require.JSONEq(t, `{"status":"SERVING"}`, body)
	code, body = httpGet(t, ops+"/healthz?service=irpgate.einvoice.v1.EInvoiceService")
	require.Equal(t, http.StatusOK, code, body)
	code, body = httpGet(t, ops+"/healthz?service=irpgate.nothing.v1.Nothing")
	require.Equal(t, http.StatusServiceUnavailable, code, body)
	require.JSONEq(t, `{"status":"SERVICE_UNKNOWN"}`, body)
	res, err := http.Head(ops + "/healthz")
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)

	// A registration through the gateway is counted where the IRP was called: in the
	// services' process, not the gateway's.
	code, out, _ := e.call(t, http.MethodPost, "/v1/einvoice/irn", e.seller, e2eInvoice(""), nil)
	require.Equal(t, http.StatusOK, code, "%v", out)
	_, metrics := httpGet(t, ops+"/metrics")
	require.Contains(t, metrics, "irpclient_call_duration_seconds_count")
	_, gwMetrics := httpGet(t, e.base+"/metrics")
	require.NotContains(t, gwMetrics, "irpclient_call_duration")

	code, _ = httpGet(t, ops+"/openapi.json")
	require.Equal(t, http.StatusNotFound, code)

	cfg := server.Defaults()
	cfg.Target, cfg.GRPCAddr, cfg.HTTPAddr, cfg.SandboxAddr = "auth,sandbox", "127.0.0.1:0", "", "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	srv, err := server.Start(t.Context(), cfg, server.Options{LogOutput: io.Discard})
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Shutdown(context.WithoutCancel(t.Context())) })
	require.Empty(t, srv.HTTPAddr)
}
