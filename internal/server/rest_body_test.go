package server_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	grpcgzip "google.golang.org/grpc/encoding/gzip"

	einvoicev1 "github.com/irpgate/irpgate/gen/go/irpgate/einvoice/v1"
	"github.com/irpgate/irpgate/services/gateway"
)

// e2eInvoiceLines is e2eInvoice with n lines of 100 + 5% IGST each.
func e2eInvoiceLines(n int) map[string]any {
	inv := e2eInvoice("")
	items := make([]any, n)
	for i := range items {
		items[i] = map[string]any{
			"SlNo": fmt.Sprint(i + 1), "PrdDesc": fmt.Sprintf("Wheat lot %d", i+1), "IsServc": "N",
			"HsnCd": "1001", "Qty": 1, "Unit": "KGS", "UnitPrice": 100, "TotAmt": 100, "AssAmt": 100, "GstRt": 5,
			"IgstAmt": 5, "TotItemVal": 105,
		}
	}
	inv["ItemList"] = items
	inv["ValDtls"] = map[string]any{"AssVal": 100 * n, "IgstVal": 5 * n, "TotInvVal": 105 * n}
	return inv
}

func gzipped(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, err := zw.Write(b)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

// wireAnswer is what rawPost keeps of an answer besides its body, which it has read and closed.
type wireAnswer struct {
	StatusCode    int
	Header        http.Header
	ContentLength int64
}

// rawPost posts body with the given headers and returns the answer as it came over the wire
// (the client neither asks for compression nor undoes it).
func (e *e2e) rawPost(t *testing.T, path string, body []byte, hdr map[string]string) (wireAnswer, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, e.base+path, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+e.seller)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := (&http.Client{Transport: &http.Transport{DisableCompression: true}}).Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return wireAnswer{StatusCode: res.StatusCode, Header: res.Header, ContentLength: res.ContentLength}, raw
}

// REST callers may send the NIC JSON gzip-compressed and get large answers compressed; the
// 4 MiB limit counts decompressed bytes, and a coding the gateway cannot undo is a 415.
func TestRESTCompression(t *testing.T) {
	e := startE2E(t, "")

	t.Run("gzip request, compressed large answer", func(t *testing.T) {
		inv := mustJSON(t, e2eInvoiceLines(60))
		res, raw := e.rawPost(t, "/v1/einvoice/irn", gzipped(t, inv), map[string]string{
			"Content-Encoding": "gzip", "Accept-Encoding": "gzip",
		})
		require.Equal(t, http.StatusOK, res.StatusCode, "%q", raw)
		require.Equal(t, "gzip", res.Header.Get("Content-Encoding"))
		require.Contains(t, res.Header.Values("Vary"), "Accept-Encoding")
		require.NotEmpty(t, res.Header.Get("X-Request-Id"))
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		require.NoError(t, err)
		plain, err := io.ReadAll(zr)
		require.NoError(t, err)
		require.Greater(t, len(plain), gateway.CompressMinBytes)
		require.Less(t, len(raw), len(plain))
		var out struct{ Details map[string]any }
		require.NoError(t, json.Unmarshal(plain, &out), "%s", plain)
		irn, _ := out.Details["Irn"].(string)
		e.requireSigned(t, out.Details["SignedInvoice"].(string), out.Details["SignedQRCode"].(string), irn)
	})

	t.Run("small answers go as they are", func(t *testing.T) {
		res, raw := e.rawPost(t, "/v1/einvoice/irn", mustJSON(t, e2eInvoice("")), map[string]string{"Accept-Encoding": "gzip"})
		require.Equal(t, http.StatusOK, res.StatusCode, "%s", raw)
		require.Less(t, len(raw), gateway.CompressMinBytes)
		require.Empty(t, res.Header.Get("Content-Encoding"))
		require.Equal(t, int64(len(raw)), res.ContentLength)
		require.Contains(t, string(raw), `"SignedQRCode"`)
	})

	refused := func(t *testing.T, body []byte, hdr map[string]string, code int, message string) map[string]any {
		t.Helper()
		calls := e.stats(t).GenerateCalls
		res, raw := e.rawPost(t, "/v1/einvoice/irn", body, hdr)
		require.Equal(t, code, res.StatusCode, "%s", raw)
		var env struct {
			Error struct {
				Message string
				Args    map[string]any
			}
		}
		require.NoError(t, json.Unmarshal(raw, &env), "%s", raw)
		require.Equal(t, message, env.Error.Message)
		require.Equal(t, calls, e.stats(t).GenerateCalls, "nothing is sent to the IRP")
		return env.Error.Args
	}

	t.Run("a coding the gateway cannot undo", func(t *testing.T) {
		args := refused(t, mustJSON(t, e2eInvoice("")), map[string]string{"Content-Encoding": "br"},
			http.StatusUnsupportedMediaType, "err-unsupported-content-encoding")
		require.Equal(t, "br", args["contentEncoding"])
		require.Contains(t, args["detail"], "gzip")
	})

	t.Run("a body that is not the gzip it claims", func(t *testing.T) {
		args := refused(t, mustJSON(t, e2eInvoice("")), map[string]string{"Content-Encoding": "gzip"},
			http.StatusBadRequest, "err-invalid-request-body")
		require.Contains(t, args["errorLocation"], "Content-Encoding: gzip")
		require.Equal(t, "Content-Encoding", args["errors"].([]any)[0].(map[string]any)["field"])

		cut := gzipped(t, mustJSON(t, e2eInvoice("")))
		args = refused(t, cut[:len(cut)/2], map[string]string{"Content-Encoding": "gzip"},
			http.StatusBadRequest, "err-invalid-request-body")
		require.Contains(t, args["errorLocation"], "gzip body is corrupt")
		require.Equal(t, "Content-Encoding", args["errors"].([]any)[0].(map[string]any)["field"])
		require.Equal(t, "ERROR_REASON_INVALID_REQUEST", args["reason"])
	})

	t.Run("the limit counts decompressed bytes", func(t *testing.T) {
		bomb := gzipped(t, []byte(`{"x":"`+strings.Repeat("a", gateway.MaxBodyBytes)+`"}`))
		require.Less(t, len(bomb), gateway.MaxBodyBytes/100)
		args := refused(t, bomb, map[string]string{"Content-Encoding": "gzip"},
			http.StatusRequestEntityTooLarge, "err-request-too-large")
		require.EqualValues(t, gateway.MaxBodyBytes, args["limitBytes"])
	})

	t.Run("gRPC callers may compress", func(t *testing.T) {
		c := einvoicev1.NewEInvoiceServiceClient(e.conn)
		res, err := c.GenerateIrn(bearer(t.Context(), e.seller),
			&einvoicev1.GenerateIrnRequest{Invoice: mustJSON(t, e2eInvoiceLines(60))}, grpc.UseCompressor(grpcgzip.Name))
		require.NoError(t, err)
		d := res.GetDetails()
		e.requireSigned(t, d.GetSignedInvoice(), d.GetSignedQrCode(), d.GetIrn())
	})
}

// A REST body the gateway cannot decode is refused naming the field and the rule, in the
// envelope, and reaches neither the service nor the IRP.
func TestRESTBodyErrorsNameTheField(t *testing.T) {
	e := startE2E(t, "")
	_, gen, _ := e.call(t, http.MethodPost, "/v1/einvoice/irn", e.seller, e2eInvoice(""), nil)
	irn := gen["details"].(map[string]any)["Irn"].(string)
	for body, want := range map[string]map[string]any{
		`{"Irn":"` + irn + `","CnlRsn":1,"CnlRem":"duplicate"}`:     {"field": "CnlRsn", "reason": "INVALID_TYPE", "message": "CnlRsn must be a string, not a number"},
		`{"Irn":"` + irn + `","CnlRsn":"1","CnlRem":"duplicate"}}`:  {"field": "", "reason": "INVALID_JSON"},
		`{"Irn":"` + irn + `","CnlRsn":"1","CnlRem":["duplicate"]}`: {"field": "CnlRem", "reason": "INVALID_TYPE", "message": "CnlRem must be a string, not a list"},
	} {
		code, out, _ := e.call(t, http.MethodPost, "/v1/einvoice/irn/cancel", e.seller, []byte(body), nil)
		require.Equal(t, http.StatusBadRequest, code, "%s: %v", body, out)
		args := out["error"].(map[string]any)["args"].(map[string]any)
		require.Equal(t, "ERROR_REASON_INVALID_REQUEST", args["reason"])
		errs := args["errors"].([]any)
		require.Len(t, errs, 1)
		for k, v := range want {
			require.Equal(t, v, errs[0].(map[string]any)[k], "%s: %s", body, k)
		}
		require.NotContains(t, args["errorLocation"], "proto")
	}
	code, got, _ := e.call(t, http.MethodGet, "/v1/einvoice/irn/"+irn, e.seller, nil, nil)
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "ACT", got["details"].(map[string]any)["Status"], "no cancel went through")
}
