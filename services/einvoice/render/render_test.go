package render_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	doc "github.com/irpgate/irpgate/pkg/einvoice"
	"github.com/irpgate/irpgate/services/einvoice/render"
	"github.com/irpgate/irpgate/services/einvoice/render/rendertest"
)

// signedQR is shaped as NIC's SignedQRCode: an RS256 JWT of about 900 characters.
var signedQR = "eyJhbGciOiJSUzI1NiIsImtpZCI6IkVEQzU3REUxMzU4QjMwMEJBOUY3OTM0MEE2Njk2ODMxRjNDODUwNDciLCJ0eXAiOiJKV1QifQ." +
	strings.Repeat("eyJkYXRhIjoie1wiU2VsbGVyR3N0aW5cIjpcIjAyQU1CUEc3NzczTTAwMlwifSJ9", 5) + "." +
	strings.Repeat("Qx7_k2", 57)

func readQR(t *testing.T, raw []byte) (string, int) {
	t.Helper()
	text, edge, err := rendertest.ReadQR(raw)
	require.NoError(t, err)
	return text, edge
}

func TestQRPNG_ReadsBackAsTheSignedQRCode(t *testing.T) {
	min, err := render.QRModules(signedQR)
	require.NoError(t, err)
	for _, tc := range []struct{ size, want int }{{0, render.DefaultQRSize}, {512, 512}, {min, min}, {render.MaxQRSize, render.MaxQRSize}} {
		t.Run(fmt.Sprint(tc.size), func(t *testing.T) {
			raw, err := render.QRPNG(signedQR, tc.size)
			require.NoError(t, err)
			text, edge := readQR(t, raw)
			assert.Equal(t, signedQR, text)
			assert.Equal(t, tc.want, edge)
		})
	}
}

func TestQRPNG_RefusesSizesItCannotDraw(t *testing.T) {
	min, err := render.QRModules(signedQR)
	require.NoError(t, err)
	for _, size := range []int{-1, 10, min - 1, render.MaxQRSize + 1} {
		_, err := render.QRPNG(signedQR, size)
		var se *render.SizeError
		require.ErrorAs(t, err, &se, "size %d", size)
		assert.Equal(t, render.SizeError{Size: size, Min: min, Max: render.MaxQRSize}, *se)
		assert.Contains(t, err.Error(), fmt.Sprintf("size %d is outside %d-%d pixels", size, min, render.MaxQRSize))
	}
}

func invoice(t *testing.T) *doc.Invoice {
	t.Helper()
	raw, err := os.ReadFile("../../../pkg/einvoice/testdata/valid/b2b_minimal_inv.json")
	require.NoError(t, err)
	var inv doc.Invoice
	require.NoError(t, json.Unmarshal(raw, &inv))
	inv.ItemList[0].PrdDesc = "Durum wheat, sortex cleaned"
	return &inv
}

var registration = render.Registration{
	IRN:          "8ad3e7b2c6f0d1a4e5b9c3f7a2d6e0b4c8f1a5d9e3b7c2f6a0d4e8b1c5f9a3d7",
	AckNo:        182310049732121,
	AckDt:        "2023-10-02 14:05:09",
	SignedQRCode: signedQR,
}

func pageTexts(t *testing.T, raw []byte) []string {
	t.Helper()
	pages, err := rendertest.PageTexts(raw)
	require.NoError(t, err)
	return pages
}

func TestPDF_PrintsTheRegistration(t *testing.T) {
	inv := invoice(t)
	reg := registration
	reg.EwbNo, reg.EwbDt, reg.EwbValidTill = 391009149369, "2023-10-02 14:06:00", "2023-10-03 23:59:00"
	raw, err := render.PDF(inv, reg)
	require.NoError(t, err)
	require.True(t, bytes.HasPrefix(raw, []byte("%PDF-")))
	assert.Contains(t, string(raw), "/Subtype /Image", "the QR code is printed")

	pages := pageTexts(t, raw)
	require.Len(t, pages, 1)
	for _, want := range []string{
		"Tax Invoice", reg.IRN, "182310049732121", "2023-10-02 14:05:09",
		"9sQ5E2", "02/10/2023", "B2B", "Himachal Goods", "GSTIN: 02AMBPG7773M002", "Shimla - 171001",
		"Hyderabad Buyer", "GSTIN: 36AMBPG7773M002", "Place of Supply: 36",
		"Durum wheat, sortex cleaned", "1001", "KGS", "100.00", "105.00",
		"IGST", "Total Invoice Value (INR)", "391009149369", "2023-10-03 23:59:00", "Page 1 of 1",
	} {
		assert.Contains(t, pages[0], want)
	}
	assert.NotContains(t, pages[0], "CANCELLED")
	assert.NotContains(t, pages[0], "CGST", "heads the invoice does not have are left out")
}

// longInvoice is invoice(t) with n items whose descriptions wrap onto a second line.
func longInvoice(t *testing.T, n int) *doc.Invoice {
	t.Helper()
	inv := invoice(t)
	item := inv.ItemList[0]
	inv.ItemList = nil
	for i := range n {
		item.SlNo = fmt.Sprint(i + 1)
		item.PrdDesc = fmt.Sprintf("Item number %d with a description long enough to wrap onto a second line of its cell", i+1)
		inv.ItemList = append(inv.ItemList, item)
	}
	return inv
}

// A long invoice runs onto pages that each carry the cancel mark, their number, the item
// table's header and, after the first, the document and its IRN.
func TestPDF_CancelledIsMarkedOnEveryPage(t *testing.T) {
	inv := longInvoice(t, 120)
	reg := registration
	reg.CancelDate = "2023-10-02 18:00:00"
	raw, err := render.PDF(inv, reg)
	require.NoError(t, err)

	pages := pageTexts(t, raw)
	require.Greater(t, len(pages), 2, "120 items run onto several pages")
	for i, p := range pages {
		assert.Contains(t, p, "CANCELLED on 2023-10-02 18:00:00", "page %d", i+1)
		assert.Contains(t, p, fmt.Sprintf("Page %d of %d", i+1, len(pages)))
		assert.Contains(t, p, "Unit Price", "the item table's header repeats on page %d", i+1)
		if i > 0 {
			assert.Contains(t, p, "Tax Invoice "+inv.DocDtls.No+" dated "+inv.DocDtls.Dt+", IRN "+reg.IRN+" (continued)",
				"page %d names its invoice", i+1)
		}
	}
	assert.NotContains(t, pages[0], "(continued)")
	all := strings.Join(pages, "")
	for i := range 120 {
		assert.Contains(t, all, fmt.Sprintf("Item number %d with", i+1))
	}
}

// Rule 48: goods in triplicate (recipient, transporter, supplier), services in duplicate
// (recipient, supplier).
func TestCopyMark(t *testing.T) {
	goods := invoice(t)
	services := invoice(t)
	for i := range services.ItemList {
		services.ItemList[i].IsServc = "Y"
	}
	mixed := invoice(t)
	mixed.ItemList = append(mixed.ItemList, services.ItemList[0])
	for _, c := range []struct {
		copy string
		inv  *doc.Invoice
		mark string
		ok   bool
	}{
		{"", goods, "", true},
		{"original", goods, "ORIGINAL FOR RECIPIENT", true},
		{"DUPLICATE", goods, "DUPLICATE FOR TRANSPORTER", true},
		{"Triplicate", goods, "TRIPLICATE FOR SUPPLIER", true},
		{"ORIGINAL", services, "ORIGINAL FOR RECIPIENT", true},
		{"DUPLICATE", services, "DUPLICATE FOR SUPPLIER", true},
		{"TRIPLICATE", services, "", false},
		{"DUPLICATE", mixed, "DUPLICATE FOR TRANSPORTER", true},
		{"QUADRUPLICATE", goods, "", false},
	} {
		mark, ok := render.CopyMark(c.copy, c.inv)
		assert.Equal(t, c.mark, mark, "%q", c.copy)
		assert.Equal(t, c.ok, ok, "%q", c.copy)
	}
}

// The copy's mark is on every page of a long invoice.
func TestPDF_CopyMarkOnEveryPage(t *testing.T) {
	inv := longInvoice(t, 80)
	reg := registration
	reg.Copy = "TRIPLICATE FOR SUPPLIER"
	raw, err := render.PDF(inv, reg)
	require.NoError(t, err)
	pages := pageTexts(t, raw)
	require.Greater(t, len(pages), 1)
	for i, p := range pages {
		assert.Contains(t, p, "TRIPLICATE FOR SUPPLIER", "page %d", i+1)
	}
}

func TestPDF_SameBytesForTheSameRegistration(t *testing.T) {
	a, err := render.PDF(invoice(t), registration)
	require.NoError(t, err)
	b, err := render.PDF(invoice(t), registration)
	require.NoError(t, err)
	assert.Equal(t, a, b)
}

func TestPDF_CharactersTheFontCannotPrint(t *testing.T) {
	inv := invoice(t)
	inv.SellerDtls.LglNm = "Café Shimla गुड्स"
	raw, err := render.PDF(inv, registration)
	require.NoError(t, err)
	assert.Contains(t, pageTexts(t, raw)[0], "Café Shimla ?????")
}

func TestPDF_RefusesARegistrationWithoutQRCode(t *testing.T) {
	reg := registration
	reg.SignedQRCode = ""
	_, err := render.PDF(invoice(t), reg)
	require.Error(t, err)
}

func TestPDF_CreditNotePrintsWhatItAdjusts(t *testing.T) {
	inv := invoice(t)
	inv.DocDtls.Typ = "CRN"
	inv.RefDtls = &doc.RefDtls{
		InvRm:       "Rate difference",
		PrecDocDtls: []doc.PrecDocDtls{{InvNo: "INV/2023/0042", InvDt: "01/10/2023", OthRefNo: "GRN-77"}},
		ContrDtls:   []doc.ContrDtls{{PORefr: "PO-5531", PORefDt: "15/09/2023"}},
	}
	inv.PayDtls = &doc.PayDtls{Nm: "Himachal Goods", AccDet: "5697389713210", FinInsBr: "SBIN0011343", CrDay: 30, PaymtDue: 105}
	raw, err := render.PDF(inv, registration)
	require.NoError(t, err)
	page := pageTexts(t, raw)[0]
	for _, want := range []string{
		"Credit Note", "Against Invoice:", "INV/2023/0042 dated 01/10/2023 (ref. GRN-77)",
		"Purchase Order:", "PO-5531 dated 15/09/2023", "Remarks:", "Rate difference",
		"IFSC: SBIN0011343", "Credit Days: 30", "Amount Due: 105.00",
	} {
		assert.Contains(t, page, want)
	}
	assert.NotContains(t, page, "Tax Invoice")
}

func TestPDF_ExportPrintsShippingDetails(t *testing.T) {
	inv := invoice(t)
	inv.TranDtls.SupTyp = "EXPWP"
	inv.ExpDtls = &doc.ExpDtls{ShipBNo: "A-248", ShipBDt: "02/10/2023", Port: "INBOM4", CntCode: "AE", ForCur: "AED"}
	inv.ValDtls.TotInvValFc = 4.7
	raw, err := render.PDF(inv, registration)
	require.NoError(t, err)
	page := pageTexts(t, raw)[0]
	for _, want := range []string{"EXPWP", "Shipping Bill:", "A-248 dated 02/10/2023", "INBOM4", "AED", "In foreign currency", "4.70"} {
		assert.Contains(t, page, want)
	}
}

func BenchmarkQRPNG(b *testing.B) {
	for b.Loop() {
		if _, err := render.QRPNG(signedQR, 0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPDF prints a one-item invoice and a 100-item one (three pages).
func BenchmarkPDF(b *testing.B) {
	raw, err := os.ReadFile("../../../pkg/einvoice/testdata/valid/b2b_minimal_inv.json")
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{1, 100} {
		var inv doc.Invoice
		if err := json.Unmarshal(raw, &inv); err != nil {
			b.Fatal(err)
		}
		for i := 1; i < n; i++ {
			it := inv.ItemList[0]
			it.SlNo = fmt.Sprint(i + 1)
			inv.ItemList = append(inv.ItemList, it)
		}
		b.Run(fmt.Sprintf("items=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := render.PDF(&inv, registration); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
