package server_test

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	einvoicev1 "github.com/irpgate/irpgate/gen/go/irpgate/einvoice/v1"
	"github.com/irpgate/irpgate/services/einvoice/render/rendertest"
)

// The printouts of a registration, the signed QR code as a PNG and the invoice as a PDF,
// over REST and gRPC: in one process, and with the gateway, einvoice and auth apart (the
// PDF's file name crosses a real gRPC hop).
func TestPrintouts(t *testing.T) {
	t.Run("one process", func(t *testing.T) {
		e := startE2E(t, "")
		t.Run("REST", e.printREST)
		t.Run("gRPC", e.printGRPC)
	})
	t.Run("auth, einvoice and gateway apart", func(t *testing.T) {
		e := startE2EThreeWay(t, tracetest.NewInMemoryExporter())
		t.Run("REST", e.printREST)
		t.Run("gRPC", e.printGRPC)
	})
}

// file makes one REST GET and returns the status, the body and the headers.
func (e *e2e) file(t *testing.T, path, tok string) (int, []byte, http.Header) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, e.base+path, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	require.Len(t, res.Header.Values("X-Request-Id"), 1, "every response carries one request id")
	return res.StatusCode, raw, res.Header
}

func (e *e2e) printREST(t *testing.T) {
	// The API description says what the answers are: the file itself, not JSON.
	var api struct {
		Paths map[string]map[string]struct {
			Produces  []string
			Responses map[string]struct{ Schema map[string]any }
		}
	}
	getJSON(t, e.base+"/openapi.json", &api)
	for path, mime := range map[string]string{"/v1/einvoice/irn/{irn}/qr": "image/png", "/v1/einvoice/irn/{irn}/pdf": "application/pdf"} {
		op := api.Paths[path]["get"]
		assert.Equal(t, []string{mime}, op.Produces, path)
		assert.Equal(t, map[string]any{"type": "string", "format": "binary"}, op.Responses["200"].Schema, path)
	}

	inv := e2eInvoice("")
	code, out, _ := e.call(t, http.MethodPost, "/v1/einvoice/irn", e.seller, inv, nil)
	require.Equal(t, http.StatusOK, code, "%v", out)
	d := out["details"].(map[string]any)
	irn, qr := d["Irn"].(string), d["SignedQRCode"].(string)
	docNo := inv["DocDtls"].(map[string]any)["No"].(string)

	code, png, hdr := e.file(t, "/v1/einvoice/irn/"+irn+"/qr", e.seller)
	require.Equal(t, http.StatusOK, code, "%s", png)
	assert.Equal(t, "image/png", hdr.Get("Content-Type"))
	text, edge, err := rendertest.ReadQR(png)
	require.NoError(t, err)
	assert.Equal(t, qr, text, "the image reads back as the IRP's SignedQRCode")
	assert.Equal(t, 256, edge)

	code, png, _ = e.file(t, "/v1/einvoice/irn/"+irn+"/qr?size=400", e.seller)
	require.Equal(t, http.StatusOK, code, "%s", png)
	_, edge, err = rendertest.ReadQR(png)
	require.NoError(t, err)
	assert.Equal(t, 400, edge)

	for _, size := range []string{"20", "-1", "5000"} {
		code, out, _ = e.call(t, http.MethodGet, "/v1/einvoice/irn/"+irn+"/qr?size="+size, e.seller, nil, nil)
		require.Equal(t, http.StatusBadRequest, code, "size %s: %v", size, out)
		errs := out["error"].(map[string]any)["args"].(map[string]any)["errors"].([]any)
		require.Len(t, errs, 1)
		assert.Equal(t, "size", errs[0].(map[string]any)["field"], "size %s", size)
		assert.Equal(t, "OUT_OF_RANGE", errs[0].(map[string]any)["reason"], "size %s", size)
	}

	if e.exp != nil {
		e.exp.Reset()
	}
	code, pdf, hdr := e.file(t, "/v1/einvoice/irn/"+irn+"/pdf", e.seller)
	require.Equal(t, http.StatusOK, code, "%s", pdf)
	assert.Equal(t, "application/pdf", hdr.Get("Content-Type"))
	assert.Equal(t, `inline; filename="INV-`+strings.ReplaceAll(docNo, "/", "-")+`.pdf"`, hdr.Get("Content-Disposition"))
	assert.Equal(t, strconv.Itoa(len(pdf)), hdr.Get("Content-Length"))
	pages, err := rendertest.PageTexts(pdf)
	require.NoError(t, err)
	require.Len(t, pages, 1)
	for _, want := range []string{
		irn, jsonNumber(d["AckNo"]), d["AckDt"].(string), docNo,
		"Sample Karnataka Co", "GSTIN: " + e2eSeller, "GSTIN: " + e2eBuyer, "Wheat", "210.00",
	} {
		assert.Contains(t, pages[0], want)
	}
	assert.NotContains(t, pages[0], "CANCELLED")
	assert.NotContains(t, pages[0], "FOR RECIPIENT", "unmarked unless a copy is asked for")

	if e.exp != nil {
		// Drawing is a span of the request's trace, with the item count and the size.
		require.Eventually(t, func() bool {
			var gateway, render sdktrace.ReadOnlySpan
			for _, sp := range e.exp.GetSpans().Snapshots() {
				switch sp.Name() {
				case "GET /v1/einvoice/irn/{irn}/pdf":
					gateway = sp
				case "einvoice.render_pdf":
					render = sp
				}
			}
			return gateway != nil && render != nil && gateway.SpanContext().TraceID() == render.SpanContext().TraceID() &&
				slices.Contains(render.Attributes(), attribute.Int("einvoice.items", 1)) &&
				slices.Contains(render.Attributes(), attribute.Int("einvoice.pdf_bytes", len(pdf)))
		}, 5*time.Second, 20*time.Millisecond, "a render_pdf span in the PDF request's trace")
	}

	// The transporter's copy of a goods invoice (Rule 48), named as such.
	code, dup, dupHdr := e.file(t, "/v1/einvoice/irn/"+irn+"/pdf?copy=duplicate", e.seller)
	require.Equal(t, http.StatusOK, code, "%s", dup)
	assert.Equal(t, `inline; filename="INV-`+strings.ReplaceAll(docNo, "/", "-")+`-duplicate.pdf"`, dupHdr.Get("Content-Disposition"))
	dupPages, err := rendertest.PageTexts(dup)
	require.NoError(t, err)
	assert.Contains(t, dupPages[0], "DUPLICATE FOR TRANSPORTER")
	code, out, _ = e.call(t, http.MethodGet, "/v1/einvoice/irn/"+irn+"/pdf?copy=fourth", e.seller, nil, nil)
	require.Equal(t, http.StatusBadRequest, code, "%v", out)
	assert.Contains(t, out["error"].(map[string]any)["args"].(map[string]any)["errorLocation"], "copy must be ORIGINAL, DUPLICATE or TRIPLICATE")

	// Printouts follow GetIrn's rule: another seller's IRN is not there for this caller.
	for _, f := range []string{"qr", "pdf"} {
		code, out, _ = e.call(t, http.MethodGet, "/v1/einvoice/irn/"+irn+"/"+f, e.other, nil, nil)
		assert.Equal(t, http.StatusNotFound, code, "%s: %v", f, out)
	}
	code, out, _ = e.call(t, http.MethodGet, "/v1/einvoice/irn/not-an-irn/pdf", e.seller, nil, nil)
	assert.Equal(t, http.StatusBadRequest, code, "%v", out)

	// Once cancelled, the PDF says so.
	code, cancelled, _ := e.call(t, http.MethodPost, "/v1/einvoice/irn/cancel", e.seller,
		map[string]any{"Irn": irn, "CnlRsn": "2", "CnlRem": "Data entry mistake"}, nil)
	require.Equal(t, http.StatusOK, code, "%v", cancelled)
	code, pdf, _ = e.file(t, "/v1/einvoice/irn/"+irn+"/pdf", e.seller)
	require.Equal(t, http.StatusOK, code, "%s", pdf)
	pages, err = rendertest.PageTexts(pdf)
	require.NoError(t, err)
	assert.Contains(t, pages[0], "CANCELLED on "+cancelled["CancelDate"].(string))

	// An IRN registered elsewhere (straight at the IRP) is read from the IRP with the
	// seller's GSTIN, as GetIrn reads it, and printed.
	elsewhere := e2eInvoice("")
	det, err := directClient(t, e.srv.SandboxURL).GenerateIRN(t.Context(), e2eSeller, mustJSON(t, elsewhere))
	require.NoError(t, err)
	code, out, _ = e.call(t, http.MethodGet, "/v1/einvoice/irn/"+det.Irn+"/pdf", e.seller, nil, nil)
	require.Equal(t, http.StatusNotFound, code, "without the GSTIN: %v", out)
	code, pdf, _ = e.file(t, "/v1/einvoice/irn/"+det.Irn+"/pdf?gstin="+e2eSeller, e.seller)
	require.Equal(t, http.StatusOK, code, "%s", pdf)
	pages, err = rendertest.PageTexts(pdf)
	require.NoError(t, err)
	assert.Contains(t, pages[0], elsewhere["DocDtls"].(map[string]any)["No"].(string))
}

func (e *e2e) printGRPC(t *testing.T) {
	c := einvoicev1.NewEInvoiceServiceClient(e.conn)
	ctx := bearer(t.Context(), e.seller)
	seq := strconv.FormatInt(e2eSeq.Add(1), 10)
	gen, err := c.GenerateIrn(ctx, &einvoicev1.GenerateIrnRequest{Invoice: mustJSON(t, e2eInvoice("PRINT/"+seq))})
	require.NoError(t, err)
	d := gen.GetDetails()

	img, err := c.GetQrImage(ctx, &einvoicev1.GetQrImageRequest{Irn: d.GetIrn(), Size: 300})
	require.NoError(t, err)
	assert.Equal(t, "image/png", img.GetFile().GetContentType())
	text, edge, err := rendertest.ReadQR(img.GetFile().GetData())
	require.NoError(t, err)
	assert.Equal(t, d.GetSignedQrCode(), text)
	assert.Equal(t, 300, edge)

	var hdr metadata.MD
	pdf, err := c.GetInvoicePdf(ctx, &einvoicev1.GetInvoicePdfRequest{Irn: d.GetIrn()}, grpc.Header(&hdr))
	require.NoError(t, err)
	assert.Equal(t, "application/pdf", pdf.GetFile().GetContentType())
	assert.Equal(t, []string{`inline; filename="INV-PRINT-` + seq + `.pdf"`}, hdr.Get("content-disposition"))
	pages, err := rendertest.PageTexts(pdf.GetFile().GetData())
	require.NoError(t, err)
	assert.Contains(t, pages[0], d.GetIrn())

	_, err = c.GetQrImage(ctx, &einvoicev1.GetQrImageRequest{Irn: d.GetIrn(), Size: 10})
	require.Equal(t, codes.InvalidArgument, status.Code(err), "%v", err)
	_, err = c.GetInvoicePdf(bearer(t.Context(), e.other), &einvoicev1.GetInvoicePdfRequest{Irn: d.GetIrn()})
	require.Equal(t, codes.NotFound, status.Code(err), "%v", err)

	// A services invoice is made in duplicate: its duplicate is the supplier's, and it has
	// no triplicate.
	svc := e2eInvoice("")
	svc["ItemList"] = []any{map[string]any{
		"SlNo": "1", "PrdDesc": "Consulting", "IsServc": "Y", "HsnCd": "998311",
		"UnitPrice": 200, "TotAmt": 200, "AssAmt": 200, "GstRt": 5, "IgstAmt": 10, "TotItemVal": 210,
	}}
	gen, err = c.GenerateIrn(ctx, &einvoicev1.GenerateIrnRequest{Invoice: mustJSON(t, svc)})
	require.NoError(t, err)
	pdf, err = c.GetInvoicePdf(ctx, &einvoicev1.GetInvoicePdfRequest{Irn: gen.GetDetails().GetIrn(), Copy: "DUPLICATE"})
	require.NoError(t, err)
	pages, err = rendertest.PageTexts(pdf.GetFile().GetData())
	require.NoError(t, err)
	assert.Contains(t, pages[0], "DUPLICATE FOR SUPPLIER")
	_, err = c.GetInvoicePdf(ctx, &einvoicev1.GetInvoicePdfRequest{Irn: gen.GetDetails().GetIrn(), Copy: "TRIPLICATE"})
	require.Equal(t, codes.InvalidArgument, status.Code(err), "%v", err)
	assert.Contains(t, status.Convert(err).Message(), "Rule 48(2)")
}

// jsonNumber prints a number as it reads in text (AckNo comes as a JSON string or number).
func jsonNumber(v any) string {
	switch n := v.(type) {
	case string:
		return n
	case json.Number:
		return n.String()
	case float64:
		return strconv.FormatFloat(n, 'f', -1, 64)
	}
	return ""
}
