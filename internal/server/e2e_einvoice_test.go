package server_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	authv1 "github.com/irpgate/irpgate/gen/go/irpgate/auth/v1"
	einvoicev1 "github.com/irpgate/irpgate/gen/go/irpgate/einvoice/v1"
	"github.com/irpgate/irpgate/internal/callerauth"
	"github.com/irpgate/irpgate/internal/server"
	"github.com/irpgate/irpgate/internal/store/storetest"
	"github.com/irpgate/irpgate/pkg/irpcrypto"
	"github.com/irpgate/irpgate/services/sandbox"
)

// The e-invoice flow end to end: `--target=all` (sandbox upstream) over real HTTP and gRPC,
// on SQLite and on PostgreSQL.

const (
	e2eSeller   = "29AAACP7879D1Z0" // Sample Karnataka Co (sandbox master)
	e2eBuyer    = "27AAAPI3182M002" // Test PAN Maharashtra (NIC test GSTIN)
	e2eOther    = "24AAUPV7468F1ZW" // Sample Gujarat Co: a GSTIN the limited caller lacks
	e2eAdminKey = "e2e-admin-key-0123456789abcdef0123456789"
)

type e2e struct {
	srv    *server.Server
	exp    *tracetest.InMemoryExporter
	base   string // http://host:port of the gateway
	conn   *grpc.ClientConn
	certs  []*x509.Certificate
	seller string // bearer token of a caller limited to e2eSeller
	other  string // bearer token of a caller limited to e2eOther

	sellerKey, otherKey string // their API keys
}

func startE2E(t testing.TB, databaseURL string) *e2e {
	t.Helper()
	return startE2EWith(t, databaseURL, tracetest.NewInMemoryExporter())
}

// startE2EWith starts `--target=all` with spans going to exp (none exported when nil).
func startE2EWith(t testing.TB, databaseURL string, exp *tracetest.InMemoryExporter) *e2e {
	t.Helper()
	return startE2ETarget(t, "all", databaseURL, exp)
}

// startE2ESplit runs the services and the sandbox in one server and the REST gateway in
// another that reaches them over gRPC on TCP, as separate Deployments do. Both export
// their spans to one exporter, so a trace can be followed across the two.
func startE2ESplit(t testing.TB, exp *tracetest.InMemoryExporter) *e2e {
	t.Helper()
	e := startE2ETarget(t, "auth,einvoice,ewaybill,gstin,sandbox", "", exp)
	code, _ := httpGet(t, "http://"+e.srv.HTTPAddr+"/v1/einvoice/irns/x")
	require.Equal(t, http.StatusNotFound, code, "the services' server runs no gateway: its --http-addr serves probes and metrics only")
	cfg := server.Defaults()
	cfg.Target = "gateway"
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.AuthAddr, cfg.EInvoiceAddr, cfg.EwayBillAddr, cfg.GstinAddr = e.srv.GRPCAddr, e.srv.GRPCAddr, e.srv.GRPCAddr, e.srv.GRPCAddr
	gw, err := server.Start(t.Context(), cfg, server.Options{LogOutput: io.Discard, SpanExporter: exp})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, gw.Shutdown(context.WithoutCancel(t.Context()))) })
	e.base = "http://" + gw.HTTPAddr
	return e
}

// startE2EThreeWay runs auth (with the sandbox), einvoice and the REST gateway as three
// servers that reach each other over gRPC on TCP, as three Deployments do: einvoice gets
// IRP sessions from auth with the shared service key, and talks to the sandbox as to a
// remote IRP (URLs, public key and certificate from files).
func startE2EThreeWay(t *testing.T, exp *tracetest.InMemoryExporter) *e2e {
	t.Helper()
	dir := t.TempDir()
	key := make([]byte, 32)
	_, err := rand.Read(key)
	require.NoError(t, err)
	keyFile := filepath.Join(dir, "service.key")
	require.NoError(t, os.WriteFile(keyFile, []byte(base64.StdEncoding.EncodeToString(key)+"\n"), 0o600))
	t.Setenv(callerauth.ServiceKeyFileEnv, keyFile)

	e := startE2ETarget(t, "auth,sandbox", "", exp)
	var keys struct{ EncryptionPublicKey, SigningCertificate string }
	getJSON(t, e.srv.SandboxURL+"/sandbox/publickeys", &keys)
	pubFile, certFile := filepath.Join(dir, "irp-public-key.pem"), filepath.Join(dir, "irp-cert.pem")
	require.NoError(t, os.WriteFile(pubFile, []byte(keys.EncryptionPublicKey), 0o600))
	require.NoError(t, os.WriteFile(certFile, []byte(keys.SigningCertificate), 0o600))

	start := func(cfg server.Config) *server.Server {
		cfg.DataDir = t.TempDir()
		srv, err := server.Start(t.Context(), cfg, server.Options{LogOutput: io.Discard, SpanExporter: exp})
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, srv.Shutdown(context.WithoutCancel(t.Context()))) })
		return srv
	}
	inv := server.Defaults()
	inv.Target, inv.GRPCAddr, inv.HTTPAddr, inv.AuthAddr = "einvoice", "127.0.0.1:0", "127.0.0.1:0", e.srv.GRPCAddr
	inv.IRPURLs = "NIC1=" + e.srv.SandboxURL + ",NIC2=" + e.srv.SandboxURL + "/irp/nic2"
	inv.IRPKeyFile, inv.IRPCertFile, inv.AcceptTestGSTIN = pubFile, certFile, true
	einv := start(inv)

	gw := server.Defaults()
	gw.Target, gw.HTTPAddr = "gateway", "127.0.0.1:0"
	gw.AuthAddr, gw.EInvoiceAddr = e.srv.GRPCAddr, einv.GRPCAddr
	e.base = "http://" + start(gw).HTTPAddr

	conn, err := grpc.NewClient(einv.GRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	e.conn = conn // the gRPC flow calls einvoice itself
	return e
}

func startE2ETarget(t testing.TB, target, databaseURL string, exp *tracetest.InMemoryExporter) *e2e {
	t.Helper()
	return startE2EIn(t, t.TempDir(), target, databaseURL, exp)
}

// startE2EIn is startE2ETarget on the data directory dataDir.
func startE2EIn(t testing.TB, dataDir, target, databaseURL string, exp *tracetest.InMemoryExporter) *e2e {
	t.Helper()
	return startE2EConfig(t, dataDir, target, databaseURL, exp, nil)
}

// startE2EConfig is startE2EIn with the server's configuration changed by edit (if not nil).
func startE2EConfig(t testing.TB, dataDir, target, databaseURL string, exp *tracetest.InMemoryExporter, edit func(*server.Config)) *e2e {
	t.Helper()
	cfg := server.Defaults()
	cfg.Target = target
	cfg.GRPCAddr, cfg.HTTPAddr, cfg.SandboxAddr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cfg.DataDir = dataDir
	cfg.DatabaseURL = databaseURL
	cfg.AdminKey = e2eAdminKey
	if edit != nil {
		edit(&cfg)
	}
	opts := server.Options{LogOutput: io.Discard}
	if exp != nil {
		opts.SpanExporter = exp
	}
	srv, err := server.Start(t.Context(), cfg, opts)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, srv.Shutdown(context.WithoutCancel(t.Context()))) })

	conn, err := grpc.NewClient(srv.GRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	e := &e2e{srv: srv, exp: exp, base: "http://" + srv.HTTPAddr, conn: conn}
	e.enrol(t, srv.SandboxURL)
	return e
}

// enrol sets up irpgate (reached over e.conn) for the tests as an admin would: the IRP
// credentials of the seller (the sandbox's API user at sandboxURL), and two limited API
// keys with their tokens. It keeps the sandbox's signing certificate in e.certs.
func (e *e2e) enrol(t testing.TB, sandboxURL string) {
	t.Helper()
	var keys struct{ SigningCertificate string }
	getJSON(t, sandboxURL+"/sandbox/publickeys", &keys)
	var err error
	e.certs, err = irpcrypto.ParseCertificates([]byte(keys.SigningCertificate))
	require.NoError(t, err)

	auth := authv1.NewAuthServiceClient(e.conn)
	admin := bearer(t.Context(), token(t, auth, e2eAdminKey))
	var users []sandbox.User
	getJSON(t, sandboxURL+"/sandbox/admin/users", &users)
	for _, u := range users {
		if u.GSTIN != e2eSeller {
			continue
		}
		for _, irp := range []string{"NIC1", "NIC2"} {
			_, err := auth.RegisterCredential(admin, &authv1.RegisterCredentialRequest{
				Gstin: u.GSTIN, Irp: irp, ClientId: u.ClientID, ClientSecret: u.ClientSecret, Username: u.UserName, Password: u.Password,
			})
			if status.Code(err) != codes.AlreadyExists {
				require.NoError(t, err)
			}
		}
	}
	for gstin, dst := range map[string][2]*string{e2eSeller: {&e.seller, &e.sellerKey}, e2eOther: {&e.other, &e.otherKey}} {
		k, err := auth.CreateApiKey(admin, &authv1.CreateApiKeyRequest{Tenant: "e2e", Gstins: []string{gstin}})
		require.NoError(t, err)
		*dst[0], *dst[1] = token(t, auth, k.GetApiKey()), k.GetApiKey()
	}
}

// gRPC callers may send their API key as x-api-key metadata, as REST callers send the
// X-Api-Key header, with everything in one process and with einvoice apart from auth.
func TestGRPCCallersMaySendTheirAPIKey(t *testing.T) {
	for name, start := range map[string]func(*testing.T) *e2e{
		"one process":              func(t *testing.T) *e2e { return startE2EWith(t, "", nil) },
		"einvoice apart from auth": func(t *testing.T) *e2e { return startE2EThreeWay(t, tracetest.NewInMemoryExporter()) },
	} {
		t.Run(name, func(t *testing.T) {
			e := start(t)
			c := einvoicev1.NewEInvoiceServiceClient(e.conn)
			withKey := func(key string) context.Context {
				return metadata.AppendToOutgoingContext(t.Context(), "x-api-key", key)
			}
			body, err := json.Marshal(e2eInvoice(""))
			require.NoError(t, err)

			res, err := c.GenerateIrn(withKey(e.sellerKey), &einvoicev1.GenerateIrnRequest{Invoice: body})
			require.NoError(t, err)
			irn := res.GetDetails().GetIrn()
			got, err := c.GetIrn(withKey(e.sellerKey), &einvoicev1.GetIrnRequest{Irn: irn})
			require.NoError(t, err)
			require.Equal(t, irn, got.GetDetails().GetIrn())

			_, err = c.GetIrn(withKey(e.otherKey), &einvoicev1.GetIrnRequest{Irn: irn})
			require.Equal(t, codes.NotFound, status.Code(err), "a key for another GSTIN learns nothing of it: %v", err)
			_, err = c.GetIrn(withKey("irpg_not-a-key"), &einvoicev1.GetIrnRequest{Irn: irn})
			require.Equal(t, codes.Unauthenticated, status.Code(err), "%v", err)
			require.Contains(t, status.Convert(err).Message(), "unknown or revoked API key")
			_, err = c.GetIrn(t.Context(), &einvoicev1.GetIrnRequest{Irn: irn})
			require.Equal(t, codes.Unauthenticated, status.Code(err), "%v", err)
			require.Contains(t, status.Convert(err).Message(), "x-api-key")
		})
	}
}

func token(t testing.TB, auth authv1.AuthServiceClient, apiKey string) string {
	t.Helper()
	res, err := auth.IssueToken(t.Context(), &authv1.IssueTokenRequest{ApiKey: apiKey})
	require.NoError(t, err)
	require.NotEmpty(t, res.GetAccessToken())
	return res.GetAccessToken()
}

func bearer(ctx context.Context, tok string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok)
}

func getJSON(t testing.TB, u string, v any) {
	t.Helper()
	res, err := http.Get(u)
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode, u)
	require.NoError(t, json.NewDecoder(res.Body).Decode(v))
}

type sandboxStats struct {
	GenerateCalls int64 `json:"generate_calls"`
	Generated     int64 `json:"generated"`
	CancelCalls   int64 `json:"cancel_calls"`
}

func (e *e2e) stats(t *testing.T) sandboxStats {
	var s sandboxStats
	getJSON(t, e.srv.SandboxURL+"/sandbox/admin/stats", &s)
	return s
}

// call makes one REST request and decodes the JSON answer. A []byte body is sent as it is,
// anything else as its JSON.
func (e *e2e) call(t *testing.T, method, path, tok string, body any, hdr map[string]string) (int, map[string]any, http.Header) {
	t.Helper()
	var rd io.Reader
	if raw, ok := body.([]byte); ok {
		rd = bytes.NewReader(raw)
	} else if body != nil {
		b, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, e.base+path, rd)
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	var out map[string]any
	require.NoError(t, json.Unmarshal(raw, &out), "%s %s: %s", method, path, raw)
	ids := res.Header.Values("X-Request-Id")
	require.Len(t, ids, 1, "every response carries one request id")
	require.NotEmpty(t, ids[0])
	if want, ok := hdr["X-Request-Id"]; ok {
		require.Equal(t, want, ids[0], "the caller's request id is the answer's")
	}
	if !res.Uncompressed { // a compressed answer (8 KB and more) streams its gzip
		require.Equal(t, int64(len(raw)), res.ContentLength, "%s %s: answers carry their length", method, path)
	}
	return res.StatusCode, out, res.Header
}

var e2eSeq atomic.Int64

func e2eInvoice(docNo string) map[string]any {
	if docNo == "" {
		docNo = fmt.Sprintf("X%d/%d", time.Now().Unix()%100000, e2eSeq.Add(1)) // "/" as in INV/2026-27/001
	}
	ist := time.FixedZone("IST", 5*3600+1800)
	return map[string]any{
		"Version":    "1.1",
		"TranDtls":   map[string]any{"TaxSch": "GST", "SupTyp": "B2B"},
		"DocDtls":    map[string]any{"Typ": "INV", "No": docNo, "Dt": time.Now().In(ist).Format("02/01/2006")},
		"SellerDtls": map[string]any{"Gstin": e2eSeller, "LglNm": "Sample Karnataka Co", "Addr1": "MG Road", "Loc": "Bengaluru", "Pin": 560003, "Stcd": "29"},
		"BuyerDtls":  map[string]any{"Gstin": e2eBuyer, "LglNm": "Test PAN Maharashtra", "Pos": "27", "Addr1": "Fort", "Loc": "Mumbai", "Pin": 400001, "Stcd": "27"},
		"ItemList": []any{map[string]any{
			"SlNo": "1", "PrdDesc": "Wheat", "IsServc": "N", "HsnCd": "1001", "Qty": 2, "Unit": "KGS",
			"UnitPrice": 100, "TotAmt": 200, "AssAmt": 200, "GstRt": 5, "IgstAmt": 10, "TotItemVal": 210,
		}},
		"ValDtls": map[string]any{"AssVal": 200, "IgstVal": 10, "TotInvVal": 210},
	}
}

func (e *e2e) requireSigned(t *testing.T, signedInvoice, signedQR, irn string) {
	t.Helper()
	si, err := irpcrypto.Verify(signedInvoice, e.certs)
	require.NoError(t, err)
	require.Contains(t, string(si.Data), irn)
	qr, err := irpcrypto.Verify(signedQR, e.certs)
	require.NoError(t, err)
	require.Contains(t, string(qr.Data), irn)
}

func TestEInvoiceEndToEnd(t *testing.T) {
	backends := map[string]func(t *testing.T) string{
		"sqlite":   func(*testing.T) string { return "" },
		"postgres": postgresURL,
	}
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) {
			e := startE2E(t, backends[name](t))
			// First, while no IRP session is cached, so that auth takes part in the trace.
			t.Run("one trace per REST request", e.traceFlow)
			t.Run("REST", e.restFlow)
			t.Run("gRPC", e.grpcFlow)
		})
	}
	// In one process the gateway calls einvoice, and einvoice auth, in process; split
	// across processes, the same flows cross real gRPC connections.
	t.Run("split", func(t *testing.T) {
		e := startE2ESplit(t, tracetest.NewInMemoryExporter())
		t.Run("one trace per REST request", e.traceFlow)
		t.Run("REST", e.restFlow)
	})
	t.Run("auth, einvoice and gateway apart", func(t *testing.T) {
		e := startE2EThreeWay(t, tracetest.NewInMemoryExporter())
		t.Run("one trace per REST request", e.traceFlow)
		t.Run("REST", e.restFlow)
		t.Run("gRPC", e.grpcFlow)
	})
}

func (e *e2e) restFlow(t *testing.T) {
	inv := e2eInvoice("")
	before := e.stats(t)

	// A dry run first: the IRN to come, and that the document would go to the IRP.
	code, dry, _ := e.call(t, http.MethodPost, "/v1/einvoice/validate", e.seller, inv, nil)
	require.Equal(t, http.StatusOK, code, "%v", dry)
	require.Equal(t, "GENERATE_OUTCOME_REGISTER", dry["outcome"])
	require.Equal(t, before.GenerateCalls, e.stats(t).GenerateCalls, "a dry run does not call the IRP")

	code, out, _ := e.call(t, http.MethodPost, "/v1/einvoice/irn", e.seller, inv, map[string]string{"Idempotency-Key": "rest-1"})
	require.Equal(t, http.StatusOK, code, "%v", out)
	d := out["details"].(map[string]any)
	irn := d["Irn"].(string)
	require.Equal(t, dry["Irn"], irn)
	code, dry, _ = e.call(t, http.MethodPost, "/v1/einvoice/validate", e.seller, inv, nil)
	require.Equal(t, http.StatusOK, code, "%v", dry)
	require.Equal(t, "GENERATE_OUTCOME_REPLAY", dry["outcome"])
	require.Equal(t, d["AckNo"], dry["registration"].(map[string]any)["AckNo"])
	require.Len(t, irn, 64)
	require.NotEmpty(t, d["AckNo"])
	require.NotEmpty(t, d["AckDt"])
	e.requireSigned(t, d["SignedInvoice"].(string), d["SignedQRCode"].(string), irn)
	require.Equal(t, before.GenerateCalls+1, e.stats(t).GenerateCalls)

	// Posted again: the same registration, no second IRP call.
	code, again, _ := e.call(t, http.MethodPost, "/v1/einvoice/irn", e.seller, inv, map[string]string{"X-Request-Id": "erp-batch-7-line-1"})
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, true, again["replayed"])
	require.Equal(t, irn, again["details"].(map[string]any)["Irn"])
	require.Equal(t, d["AckNo"], again["details"].(map[string]any)["AckNo"])
	require.Equal(t, before.GenerateCalls+1, e.stats(t).GenerateCalls)
	// In the v3 shape on request: status "1", the answer as data, the request id alongside.
	code, v3, hdr := e.call(t, http.MethodPost, "/v1/einvoice/irn", e.seller, inv, map[string]string{"X-Response-Format": "v3"})
	require.Equal(t, http.StatusOK, code, "%v", v3)
	require.Equal(t, "1", v3["status"])
	require.Equal(t, irn, v3["data"].(map[string]any)["details"].(map[string]any)["Irn"])
	require.Equal(t, true, v3["data"].(map[string]any)["replayed"])
	require.Equal(t, map[string]any{"requestId": hdr.Get("X-Request-Id")}, v3["additionalInfo"])
	for _, k := range []string{"error", "info", "alert"} {
		require.Contains(t, v3, k)
		require.Nil(t, v3[k], k)
	}

	// The same Idempotency-Key with another body: 409.
	code, conflict, _ := e.call(t, http.MethodPost, "/v1/einvoice/irn", e.seller, e2eInvoice(""), map[string]string{"Idempotency-Key": "rest-1"})
	require.Equal(t, http.StatusConflict, code, "%v", conflict)

	// Listed among the seller's registrations of its AckDt's day.
	day := d["AckDt"].(string)[:len("2006-01-02")]
	code, list, _ := e.call(t, http.MethodGet, "/v1/einvoice/sellers/"+e2eSeller+"/irns?status=ACT&fromDate="+day+"&toDate="+day+
		"&buyerGstin="+inv["BuyerDtls"].(map[string]any)["Gstin"].(string)+"&docType=INV&cancellable=true&pageSize=1000", e.seller, nil, nil)
	require.Equal(t, http.StatusOK, code, "%v", list)
	var listed map[string]any
	for _, it := range list["irns"].([]any) {
		if it.(map[string]any)["Irn"] == irn {
			listed = it.(map[string]any)
		}
	}
	require.NotNil(t, listed, "%v", list)
	require.Equal(t, inv["DocDtls"].(map[string]any)["No"], listed["DocNo"])
	require.Equal(t, d["AckNo"], listed["AckNo"])
	require.Equal(t, "ACT", listed["Status"])
	require.NotEmpty(t, listed["cancelBy"], "registered just now: its cancel window is open")
	require.NotContains(t, listed, "SignedInvoice")
	code, badList, _ := e.call(t, http.MethodGet, "/v1/einvoice/sellers/"+e2eSeller+"/irns?pageSize=many&fromDate=21/11/2026", e.seller, nil, nil)
	require.Equal(t, http.StatusBadRequest, code, "%v", badList)
	require.Contains(t, badList["error"].(map[string]any)["args"].(map[string]any)["errorLocation"], "pageSize")

	code, byIRN, _ := e.call(t, http.MethodGet, "/v1/einvoice/irn/"+irn, e.seller, nil, nil)
	require.Equal(t, http.StatusOK, code, "%v", byIRN)
	require.Equal(t, irn, byIRN["details"].(map[string]any)["Irn"])

	dd := inv["DocDtls"].(map[string]any)
	code, byDoc, _ := e.call(t, http.MethodGet, "/v1/einvoice/documents/"+e2eSeller+"/INV/"+url.PathEscape(dd["No"].(string))+
		"?doc_date="+url.QueryEscape(dd["Dt"].(string)), e.seller, nil, nil)
	require.Equal(t, http.StatusOK, code, "%v", byDoc)
	require.Equal(t, irn, byDoc["details"].(map[string]any)["Irn"])
	// The number's "/" may also be sent as it is.
	code, byDoc, _ = e.call(t, http.MethodGet, "/v1/einvoice/documents/"+e2eSeller+"/INV/"+dd["No"].(string), e.seller, nil, nil)
	require.Equal(t, http.StatusOK, code, "%v", byDoc)
	require.Equal(t, irn, byDoc["details"].(map[string]any)["Irn"])

	code, verified, _ := e.call(t, http.MethodPost, "/v1/einvoice/verify", e.seller, map[string]any{"token": d["SignedQRCode"]}, nil)
	require.Equal(t, http.StatusOK, code, "%v", verified)
	require.Equal(t, true, verified["valid"])
	// Pasted as the IRP answered it.
	code, verified, _ = e.call(t, http.MethodPost, "/v1/einvoice/verify", e.seller, map[string]any{"SignedInvoice": d["SignedInvoice"]}, nil)
	require.Equal(t, http.StatusOK, code, "%v", verified)
	require.Equal(t, true, verified["valid"], "%v", verified)
	require.Equal(t, "SIGNED_INVOICE", verified["kind"])
	// A document that is not valid says so: "valid": false is written out, not left off.
	code, verified, _ = e.call(t, http.MethodPost, "/v1/einvoice/verify", e.seller, map[string]any{"SignedQRCode": d["SignedInvoice"]}, nil)
	require.Equal(t, http.StatusOK, code, "%v", verified)
	require.Contains(t, verified, "valid")
	require.Equal(t, false, verified["valid"], "%v", verified)
	require.Equal(t, "given as SignedQRCode, but it is a SignedInvoice", verified["reason"])
	code, unknown, _ := e.call(t, http.MethodPost, "/v1/einvoice/verify", e.seller, map[string]any{"signedInvoice": d["SignedInvoice"]}, nil)
	require.Equal(t, http.StatusBadRequest, code, "%v", unknown)
	require.Equal(t, "signedInvoice is not a field of this request", unknown["error"].(map[string]any)["args"].(map[string]any)["errorLocation"])

	// A query parameter the route does not take (misspelt) or of the wrong type: 400 naming
	// it, not silently dropped.
	code, badQuery, _ := e.call(t, http.MethodGet, "/v1/einvoice/irn/"+irn+"?gstn="+e2eSeller, e.seller, nil, nil)
	require.Equal(t, http.StatusBadRequest, code, "%v", badQuery)
	queryErrs := badQuery["error"].(map[string]any)["args"].(map[string]any)["errors"].([]any)
	require.Len(t, queryErrs, 1)
	require.Equal(t, "gstn", queryErrs[0].(map[string]any)["field"])
	require.Equal(t, "UNKNOWN_FIELD", queryErrs[0].(map[string]any)["reason"])
	code, badQuery, _ = e.call(t, http.MethodPost, "/v1/einvoice/irn?largeTaxpayer=maybe", e.seller, inv, nil)
	require.Equal(t, http.StatusBadRequest, code, "%v", badQuery)
	require.Equal(t, `largeTaxpayer must be true or false, not "maybe"`, badQuery["error"].(map[string]any)["args"].(map[string]any)["errorLocation"])
	// A response format irpgate does not know: 400 naming the header, not the default shape
	// (V3 in any case is v3). Nothing is registered.
	before = e.stats(t)
	code, badFormat, _ := e.call(t, http.MethodPost, "/v1/einvoice/irn", e.seller, e2eInvoice(""), map[string]string{"X-Response-Format": "v4"})
	require.Equal(t, http.StatusBadRequest, code, "%v", badFormat)
	formatErrs := badFormat["error"].(map[string]any)["args"].(map[string]any)["errors"].([]any)
	require.Len(t, formatErrs, 1)
	require.Equal(t, map[string]any{
		"field": "X-Response-Format", "reason": "INVALID_ENUM",
		"message": `X-Response-Format must be v3 (the v3 shape) or left out (the default shape), not "v4"`,
	}, formatErrs[0])
	require.Equal(t, before.GenerateCalls, e.stats(t).GenerateCalls)
	code, upper, _ := e.call(t, http.MethodGet, "/v1/einvoice/irn/"+irn, e.seller, nil, map[string]string{"X-Response-Format": "V3"})
	require.Equal(t, http.StatusOK, code, "%v", upper)
	require.Equal(t, "1", upper["status"])

	// A method the path does not take: 405 with the methods it does.
	code, notAllowed, hdr := e.call(t, http.MethodDelete, "/v1/einvoice/irn/"+irn, e.seller, nil, nil)
	require.Equal(t, http.StatusMethodNotAllowed, code, "%v", notAllowed)
	require.Equal(t, "err-method-not-allowed", notAllowed["error"].(map[string]any)["message"])
	require.Equal(t, "GET, HEAD", hdr.Get("Allow"))
	// HEAD is GET without the body (probes, curl -I).
	head, err := http.NewRequestWithContext(t.Context(), http.MethodHead, e.base+"/v1/einvoice/irn/"+irn, nil)
	require.NoError(t, err)
	head.Header.Set("Authorization", "Bearer "+e.seller)
	res, err := http.DefaultClient.Do(head)
	require.NoError(t, err)
	raw, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	require.NoError(t, res.Body.Close())
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Equal(t, "application/json", res.Header.Get("Content-Type"))
	require.NotEmpty(t, res.Header.Get("X-Request-Id"))
	require.Empty(t, raw)

	code, cancelled, _ := e.call(t, http.MethodPost, "/v1/einvoice/irn/cancel", e.seller,
		map[string]any{"Irn": irn, "CnlRsn": "2", "CnlRem": "Data entry mistake"}, nil)
	require.Equal(t, http.StatusOK, code, "%v", cancelled)
	require.NotEmpty(t, cancelled["CancelDate"])
	_, byIRN, _ = e.call(t, http.MethodGet, "/v1/einvoice/irn/"+irn, e.seller, nil, nil)
	require.Equal(t, "CNL", byIRN["details"].(map[string]any)["Status"])
	// Posted after the cancel: refused, naming the IRN (NIC 2278), not answered as a success.
	code, refused, _ := e.call(t, http.MethodPost, "/v1/einvoice/irn", e.seller, inv, nil)
	require.Equal(t, http.StatusBadRequest, code, "%v", refused)
	refusedErr := refused["error"].(map[string]any)
	require.Equal(t, "err-precondition-failed", refusedErr["message"])
	require.Equal(t, irn, refusedErr["args"].(map[string]any)["irn"], "%v", refused)
	require.Contains(t, refusedErr["args"].(map[string]any)["detail"], "2278")

	// An invalid invoice: every error at once, in the enriched envelope.
	bad := e2eInvoice("")
	bad["TranDtls"].(map[string]any)["SupTyp"] = "B2X"
	bad["ItemList"].([]any)[0].(map[string]any)["HsnCd"] = "1"
	bad["ValDtls"].(map[string]any)["TotInvVal"] = 999
	code, env, _ := e.call(t, http.MethodPost, "/v1/einvoice/irn", e.seller, bad, nil)
	require.Equal(t, http.StatusBadRequest, code, "%v", env)
	errObj := env["error"].(map[string]any)
	require.Equal(t, "err-invalid-request-body", errObj["message"])
	args := errObj["args"].(map[string]any)
	require.Contains(t, args["errorLocation"], "TranDtls -> SupTyp")
	require.GreaterOrEqual(t, len(args["errors"].([]any)), 3, "%v", args)
	code, dryEnv, _ := e.call(t, http.MethodPost, "/v1/einvoice/validate", e.seller, bad, nil)
	require.Equal(t, http.StatusBadRequest, code, "%v", dryEnv)
	require.Equal(t, env, dryEnv, "a dry run finds the same faults")

	// A body that is not JSON, and no body: 400 naming what is wrong.
	code, env, _ = e.call(t, http.MethodPost, "/v1/einvoice/irn", e.seller, []byte(`{"Version": "1.1",`), nil)
	require.Equal(t, http.StatusBadRequest, code, "%v", env)
	require.Equal(t, "err-invalid-request-body", env["error"].(map[string]any)["message"])
	code, env, _ = e.call(t, http.MethodPost, "/v1/einvoice/irn", e.seller, []byte{}, nil)
	require.Equal(t, http.StatusBadRequest, code, "%v", env)
	require.Contains(t, fmt.Sprint(env["error"]), "invoice is required")

	// A caller without the seller GSTIN: 403, nothing sent, and not a word about the
	// document's faults.
	calls := e.stats(t).GenerateCalls
	code, denied, _ := e.call(t, http.MethodPost, "/v1/einvoice/irn", e.other, e2eInvoice(""), nil)
	require.Equal(t, http.StatusForbidden, code, "%v", denied)
	code, denied, _ = e.call(t, http.MethodPost, "/v1/einvoice/irn", e.other, bad, nil)
	require.Equal(t, http.StatusForbidden, code, "%v", denied)
	require.NotContains(t, fmt.Sprint(denied), "SupTyp")
	require.Equal(t, calls, e.stats(t).GenerateCalls)
}

func (e *e2e) grpcFlow(t *testing.T) {
	c := einvoicev1.NewEInvoiceServiceClient(e.conn)
	ctx := bearer(t.Context(), e.seller)
	inv := e2eInvoice("")
	keyed := metadata.AppendToOutgoingContext(ctx, "idempotency-key", "grpc-1")
	gen, err := c.GenerateIrn(keyed, &einvoicev1.GenerateIrnRequest{Invoice: mustJSON(t, inv)})
	require.NoError(t, err)
	d := gen.GetDetails()
	e.requireSigned(t, d.GetSignedInvoice(), d.GetSignedQrCode(), d.GetIrn())

	// The same document spaced differently is the same body for the Idempotency-Key.
	calls := e.stats(t).GenerateCalls
	indented, err := json.MarshalIndent(inv, "", "  ")
	require.NoError(t, err)
	again, err := c.GenerateIrn(keyed, &einvoicev1.GenerateIrnRequest{Invoice: indented})
	require.NoError(t, err)
	require.True(t, again.GetReplayed())
	require.Equal(t, d.GetIrn(), again.GetDetails().GetIrn())
	require.Equal(t, calls, e.stats(t).GenerateCalls)

	byIRN, err := c.GetIrn(ctx, &einvoicev1.GetIrnRequest{Irn: d.GetIrn()})
	require.NoError(t, err)
	require.Equal(t, d.GetAckNo(), byIRN.GetDetails().GetAckNo())
	dd := inv["DocDtls"].(map[string]any)
	byDoc, err := c.GetIrnByDocument(ctx, &einvoicev1.GetIrnByDocumentRequest{Gstin: e2eSeller, DocType: "INV", DocNo: dd["No"].(string), DocDate: dd["Dt"].(string)})
	require.NoError(t, err)
	require.Equal(t, d.GetIrn(), byDoc.GetDetails().GetIrn())

	cnl, err := c.CancelIrn(ctx, &einvoicev1.CancelIrnRequest{Irn: d.GetIrn(), CnlRsn: "3", CnlRem: "Order cancelled"})
	require.NoError(t, err)
	require.NotEmpty(t, cnl.GetCancelDate())

	bad := e2eInvoice("")
	bad["TranDtls"].(map[string]any)["SupTyp"] = "B2X"
	bad["ValDtls"].(map[string]any)["TotInvVal"] = 999
	_, err = c.GenerateIrn(ctx, &einvoicev1.GenerateIrnRequest{Invoice: mustJSON(t, bad)})
	require.Equal(t, codes.InvalidArgument, status.Code(err))

	_, err = c.GenerateIrn(bearer(t.Context(), e.other), &einvoicev1.GenerateIrnRequest{Invoice: mustJSON(t, e2eInvoice(""))})
	require.Equal(t, codes.PermissionDenied, status.Code(err))
}

// One REST request is one trace: the gateway, the einvoice service, auth (the IRP session),
// the outbound IRP call and the store all share its trace id.
func (e *e2e) traceFlow(t *testing.T) {
	e.exp.Reset()
	code, out, _ := e.call(t, http.MethodPost, "/v1/einvoice/irn", e.seller, e2eInvoice(""), nil)
	require.Equal(t, http.StatusOK, code, "%v", out)

	var names []string
	require.Eventually(t, func() bool {
		names = names[:0]
		spans := e.exp.GetSpans()
		var root string
		for _, s := range spans {
			if strings.Contains(s.Name, "/v1/einvoice/irn") || (!s.Parent.IsValid() && strings.HasPrefix(s.Name, "POST")) {
				root = s.SpanContext.TraceID().String()
			}
		}
		if root == "" {
			return false
		}
		for _, s := range spans {
			if s.SpanContext.TraceID().String() == root {
				names = append(names, s.Name)
			}
		}
		joined := strings.Join(names, "\n")
		return strings.Contains(joined, "EInvoiceService/GenerateIrn") && // gRPC client and server
			strings.Contains(joined, "store.") && // the store
			strings.Contains(joined, "irp.") && // the outbound IRP call
			strings.Contains(joined, "AuthService/") // the IRP session from auth
	}, 5*time.Second, 50*time.Millisecond, "spans: %v", names)
	t.Logf("spans of the trace: %v", names)
}

func mustJSON(t *testing.T, m map[string]any) []byte {
	t.Helper()
	b, err := json.Marshal(m)
	require.NoError(t, err)
	return b
}

// postgresURL is the test PostgreSQL server with a schema of its own for one server.
func postgresURL(t *testing.T) string {
	t.Helper()
	base := os.Getenv(storetest.EnvDatabaseURL)
	if base == "" {
		base = storetest.DefaultDatabaseURL
	}
	db := storetest.Postgres(t) // an admin connection whose cleanup closes it after the drop below
	schema := fmt.Sprintf("e2e_%d", time.Now().UnixNano())
	_, err := db.ExecContext(t.Context(), "CREATE SCHEMA "+schema)
	require.NoError(t, err)
	t.Cleanup(func() {
		_, _ = db.ExecContext(context.WithoutCancel(t.Context()), "DROP SCHEMA "+schema+" CASCADE")
	})
	u, err := url.Parse(base)
	require.NoError(t, err)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// A seller whose IRP credentials are not registered gets a clear 400 err-precondition-failed
// naming the GSTIN, the IRP and how to register them (it was a 503, an outage to retry);
// nothing reaches the IRP.
func TestEInvoiceWithoutCredentials(t *testing.T) {
	e := startE2E(t, "")
	inv := e2eInvoice("")
	inv["SellerDtls"] = map[string]any{
		"Gstin": "27AAPFU0939F1ZV", "LglNm": "Unregistered Mumbai Co", "Addr1": "Fort",
		"Loc": "Mumbai", "Pin": 400001, "Stcd": "27",
	}
	inv["BuyerDtls"] = map[string]any{
		"Gstin": e2eSeller, "LglNm": "Sample Karnataka Co", "Pos": "29", "Addr1": "MG Road",
		"Loc": "Bengaluru", "Pin": 560003, "Stcd": "29",
	}
	before := e.stats(t)
	code, body, _ := e.call(t, http.MethodPost, "/v1/einvoice/irn", "", inv, map[string]string{"X-Api-Key": e2eAdminKey})
	require.Equal(t, http.StatusBadRequest, code, "%v", body)
	errObj := body["error"].(map[string]any)
	require.Equal(t, "err-precondition-failed", errObj["message"])
	args := errObj["args"].(map[string]any)
	require.Equal(t, "ERROR_REASON_CREDENTIALS_MISSING", args["reason"])
	require.Equal(t, "27AAPFU0939F1ZV", args["gstin"])
	require.Equal(t, "NIC1", args["irp"])
	require.Equal(t, "no IRP credentials are registered for 27AAPFU0939F1ZV on NIC1; an admin registers them with "+
		"AuthService.RegisterCredential (POST /v1/auth/credentials)", args["detail"])
	require.Equal(t, before.GenerateCalls, e.stats(t).GenerateCalls)
}

// A revoked API key stops working over REST at once, though the gateway keeps the token it
// exchanged the key for (the token's subject is revoked, not only the key).
func TestRevokedAPIKeyIsRefusedOverREST(t *testing.T) {
	e := startE2E(t, "")
	admin := map[string]string{"X-Api-Key": e2eAdminKey}
	code, created, _ := e.call(t, http.MethodPost, "/v1/auth/api-keys", "", map[string]any{"tenant": "leaver", "gstins": []string{e2eSeller}}, admin)
	require.Equal(t, http.StatusOK, code, "%v", created)
	key := map[string]string{"X-Api-Key": created["apiKey"].(string)}
	keyID := created["key"].(map[string]any)["keyId"].(string)

	code, body, _ := e.call(t, http.MethodGet, "/v1/einvoice/irn/"+strings.Repeat("a", 64), "", nil, key)
	require.Equal(t, http.StatusNotFound, code, "the key works before: %v", body)

	code, body, _ = e.call(t, http.MethodDelete, "/v1/auth/api-keys/"+keyID, "", nil, admin)
	require.Equal(t, http.StatusOK, code, "%v", body)

	code, body, hdr := e.call(t, http.MethodGet, "/v1/einvoice/irn/"+strings.Repeat("a", 64), "", nil, key)
	require.Equal(t, http.StatusUnauthorized, code, "%v", body)
	require.Contains(t, fmt.Sprint(body["error"]), "revoked")
	require.NotEmpty(t, hdr.Get("WWW-Authenticate"))
}

// The largest document NIC takes (1000 items) goes through REST, the gateway and einvoice
// as separate servers over gRPC on TCP, and the sandbox: registered with both signatures,
// stored, answered from the store, and printed.
func TestTheLargestInvoiceRegistersAcrossServers(t *testing.T) {
	e := startE2EThreeWay(t, tracetest.NewInMemoryExporter())
	inv := e2eInvoice("")
	item := inv["ItemList"].([]any)[0].(map[string]any)
	items := make([]any, 1000)
	for i := range items {
		it := maps.Clone(item)
		it["SlNo"] = strconv.Itoa(i + 1)
		items[i] = it
	}
	inv["ItemList"] = items
	inv["ValDtls"] = map[string]any{"AssVal": 200 * 1000, "IgstVal": 10 * 1000, "TotInvVal": 210 * 1000}

	code, out, _ := e.call(t, http.MethodPost, "/v1/einvoice/irn", e.seller, inv, nil)
	require.Equal(t, http.StatusOK, code, "%v", out)
	d := out["details"].(map[string]any)
	irn := d["Irn"].(string)
	e.requireSigned(t, d["SignedInvoice"].(string), d["SignedQRCode"].(string), irn)
	si, err := irpcrypto.Verify(d["SignedInvoice"].(string), e.certs)
	require.NoError(t, err)
	var signed struct{ ItemList []any }
	require.NoError(t, json.Unmarshal(si.Data, &signed))
	require.Len(t, signed.ItemList, 1000)

	code, again, _ := e.call(t, http.MethodPost, "/v1/einvoice/irn", e.seller, inv, nil)
	require.Equal(t, http.StatusOK, code, "%v", again)
	require.Equal(t, true, again["replayed"])
	require.Equal(t, d["SignedInvoice"], again["details"].(map[string]any)["SignedInvoice"])

	code, pdf, _ := e.file(t, "/v1/einvoice/irn/"+irn+"/pdf", e.seller)
	require.Equal(t, http.StatusOK, code, "%s", pdf)
	require.True(t, bytes.HasPrefix(pdf, []byte("%PDF-")), "a PDF")
}

// Text outside ASCII (a description in Devanagari, the rupee sign) is sent, signed and
// stored as written: the signed invoice's data holds the same characters, a replay answers
// the same signed invoice, and it prints.
func TestTextOutsideASCIIIsSignedAsWritten(t *testing.T) {
	e := startE2E(t, "")
	inv := e2eInvoice("")
	const desc = "गेहूँ (Wheat) — ₹ grade 'A' <1kg> & more"
	inv["ItemList"].([]any)[0].(map[string]any)["PrdDesc"] = desc
	inv["BuyerDtls"].(map[string]any)["LglNm"] = "श्री गणेश ट्रेडर्स"

	code, out, _ := e.call(t, http.MethodPost, "/v1/einvoice/irn", e.seller, inv, nil)
	require.Equal(t, http.StatusOK, code, "%v", out)
	d := out["details"].(map[string]any)
	si, err := irpcrypto.Verify(d["SignedInvoice"].(string), e.certs)
	require.NoError(t, err)
	var signed struct {
		BuyerDtls struct{ LglNm string }
		ItemList  []struct{ PrdDesc string }
	}
	require.NoError(t, json.Unmarshal(si.Data, &signed))
	require.Equal(t, desc, signed.ItemList[0].PrdDesc)
	require.Equal(t, "श्री गणेश ट्रेडर्स", signed.BuyerDtls.LglNm)

	code, again, _ := e.call(t, http.MethodPost, "/v1/einvoice/irn", e.seller, inv, nil)
	require.Equal(t, http.StatusOK, code, "%v", again)
	require.Equal(t, true, again["replayed"])
	require.Equal(t, d["SignedInvoice"], again["details"].(map[string]any)["SignedInvoice"])

	// The PDF's core fonts print such text as "?" (decisions §13), but it still prints.
	code, pdf, _ := e.file(t, "/v1/einvoice/irn/"+d["Irn"].(string)+"/pdf", e.seller)
	require.Equal(t, http.StatusOK, code, "%s", pdf)
	require.True(t, bytes.HasPrefix(pdf, []byte("%PDF-")), "a PDF")
}
