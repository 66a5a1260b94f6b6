package irpclient

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/irpgate/irpgate/pkg/irpcrypto"
)

// benchInvoice is a schema v1.1 invoice with n goods lines.
func benchInvoice(n int) []byte {
	items := make([]map[string]any, n)
	for i := range items {
		items[i] = map[string]any{
			"SlNo": fmt.Sprint(i + 1), "PrdDesc": "Wheat flour, 25 kg bag", "IsServc": "N", "HsnCd": "11010000",
			"Qty": 1, "Unit": "BAG", "UnitPrice": 100, "TotAmt": 100, "AssAmt": 100, "GstRt": 5, "IgstAmt": 5, "TotItemVal": 105,
		}
	}
	b, _ := json.Marshal(map[string]any{
		"Version": "1.1", "TranDtls": map[string]any{"TaxSch": "GST", "SupTyp": "B2B"},
		"DocDtls":    map[string]any{"Typ": "INV", "No": "BENCH-1", "Dt": "01/01/2024"},
		"SellerDtls": map[string]any{"Gstin": "29AAACP7879D1Z0", "LglNm": "Seller", "Addr1": "MG Road", "Loc": "Bengaluru", "Pin": 560003, "Stcd": "29"},
		"BuyerDtls":  map[string]any{"Gstin": "27AAAPI3182M002", "LglNm": "Buyer", "Pos": "27", "Addr1": "Fort", "Loc": "Mumbai", "Pin": 400001, "Stcd": "27"},
		"ItemList":   items, "ValDtls": map[string]any{"AssVal": 100 * n, "IgstVal": 5 * n, "TotInvVal": 105 * n},
	})
	return b
}

// cannedIRP answers every request with the same encrypted Generate IRN
// answer, whose SignedInvoice embeds the invoice as NIC's does, so that
// only client-side work is measured.
type cannedIRP struct{ body []byte }

func (c cannedIRP) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		_ = r.Body.Close()
	}
	return &http.Response{
		StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(bytes.NewReader(c.body)), ContentLength: int64(len(c.body)), Request: r,
	}, nil
}

func cannedAnswer(b testing.TB, sek, invoice []byte) []byte {
	payload, _ := json.Marshal(map[string]string{"data": string(invoice), "iss": "NIC"})
	jws := "eyJhbGciOiJSUzI1NiJ9." + base64.RawURLEncoding.EncodeToString(payload) + "." + strings.Repeat("s", 342)
	data, _ := json.Marshal(map[string]any{
		"AckNo": 112410188589976, "AckDt": "2024-02-01 10:00:00", "Irn": strings.Repeat("a", 64),
		"SignedInvoice": jws, "SignedQRCode": jws[:600], "Status": "ACT", "EwbNo": nil, "EwbDt": nil, "EwbValidTill": nil, "Remarks": nil,
	})
	enc, err := irpcrypto.EncryptB64(sek, data)
	if err != nil {
		b.Fatal(err)
	}
	out, _ := json.Marshal(map[string]any{"Status": 1, "Data": enc, "ErrorDetails": nil, "InfoDtls": nil})
	return out
}

type fixedSession struct{ s *Session }

func (f fixedSession) Session(context.Context, string, string) (*Session, error) { return f.s, nil }
func (f fixedSession) Refresh(context.Context, *Session) (*Session, error)       { return f.s, nil }

// BenchmarkGenerateIRN measures the client-side cost of one Generate IRN
// call (marshal, AES encrypt, HTTP plumbing in memory, decrypt, unmarshal).
func BenchmarkGenerateIRN(b *testing.B) {
	for _, n := range []int{10, 1000} {
		b.Run(fmt.Sprintf("items=%d", n), func(b *testing.B) {
			sek, _ := irpcrypto.NewKey()
			inv := benchInvoice(n)
			sess := &Session{GSTIN: "29AAACP7879D1Z0", ClientID: "c", ClientSecret: "s", UserName: "u", AuthToken: "t", SEK: sek, IRP: NIC1, Expiry: time.Now().Add(time.Hour)}
			c, err := New(Config{
				BaseURLs: map[string]string{NIC1: "http://irp.invalid"}, Sessions: fixedSession{sess},
				HTTPClient: &http.Client{Transport: cannedIRP{cannedAnswer(b, sek, inv)}},
			})
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(inv)))
			b.ReportAllocs()
			for b.Loop() {
				out, err := c.GenerateIRN(b.Context(), sess.GSTIN, inv)
				if err != nil || out.AckNo == 0 {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkGenerateIRNCodec isolates the protocol work: request envelope
// (encrypt + marshal) and response (envelope decode, decrypt, unmarshal).
func BenchmarkGenerateIRNCodec(b *testing.B) {
	for _, n := range []int{10, 1000} {
		b.Run(fmt.Sprintf("items=%d", n), func(b *testing.B) {
			sek, _ := irpcrypto.NewKey()
			inv := benchInvoice(n)
			answer := cannedAnswer(b, sek, inv)
			r := &request{api: "GenerateIRN", irp: NIC1, kind: kindCore, payload: inv, session: &Session{SEK: sek}}
			b.SetBytes(int64(len(inv)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := encodeBody(r); err != nil {
					b.Fatal(err)
				}
				resp, err := decodeResponse(r, 200, answer)
				if err != nil {
					b.Fatal(err)
				}
				var d IRNDetails
				if err := json.Unmarshal(resp.data, &d); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
