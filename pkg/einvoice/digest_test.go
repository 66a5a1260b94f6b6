package einvoice

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func digestOf(t *testing.T, data []byte) [32]byte {
	t.Helper()
	inv, err := Decode(data)
	require.NoError(t, err)
	return inv.Digest()
}

// The same document, however its JSON is written, has one Digest.
func TestDigestIgnoresHowTheJSONIsWritten(t *testing.T) {
	body := benchInvoice(t, 3)
	want := digestOf(t, body)

	var indented bytes.Buffer
	require.NoError(t, json.Indent(&indented, body, "", "    "))
	require.Equal(t, want, digestOf(t, indented.Bytes()), "spacing")

	// Keys in another order (a map re-encodes them sorted), numbers spelled otherwise, keys in
	// another case.
	var m map[string]any
	require.NoError(t, json.Unmarshal(body, &m))
	sorted, err := json.Marshal(m)
	require.NoError(t, err)
	require.Equal(t, want, digestOf(t, sorted), "key order")
	require.Equal(t, want, digestOf(t, bytes.ReplaceAll(body, []byte(`"GstRt":18`), []byte(`"GstRt":18.00`))), "number spelling")
	require.Equal(t, want, digestOf(t, bytes.Replace(body, []byte(`"Version"`), []byte(`"version"`), 1)), "key case")
}

// Any changed value, anywhere, gives another Digest; so does moving text between fields.
func TestDigestTellsDocumentsApart(t *testing.T) {
	body := benchInvoice(t, 3)
	base := digestOf(t, body)
	for name, edit := range map[string]func(*Invoice){
		"document number":   func(inv *Invoice) { inv.DocDtls.No += "X" },
		"a line's quantity": func(inv *Invoice) { inv.ItemList[2].Qty++ },
		"a line less":       func(inv *Invoice) { inv.ItemList = inv.ItemList[:2] },
		"lines swapped":     func(inv *Invoice) { inv.ItemList[0], inv.ItemList[1] = inv.ItemList[1], inv.ItemList[0] },
		"buyer PIN":         func(inv *Invoice) { inv.BuyerDtls.Pin++ },
		"text moved between fields": func(inv *Invoice) {
			inv.SellerDtls.Addr1, inv.SellerDtls.Addr2 = inv.SellerDtls.Addr1+" "+inv.SellerDtls.Addr2[:4], inv.SellerDtls.Addr2[4:]
		},
		"an optional section": func(inv *Invoice) { inv.PayDtls = &PayDtls{} },
		"a total":             func(inv *Invoice) { inv.ValDtls.TotInvVal += 0.01 },
	} {
		t.Run(name, func(t *testing.T) {
			inv, err := Decode(body)
			require.NoError(t, err)
			edit(inv)
			require.NotEqual(t, base, inv.Digest())
		})
	}
	// A 1000-line document digests the same twice (no map order or the like inside).
	big := benchInvoice(t, 1000)
	once := digestOf(t, big)
	require.Equal(t, once, digestOf(t, big))
	require.NotContains(t, string(big), "PayDtls", "the base has no PayDtls for the optional-section case")
}

func BenchmarkDigest(b *testing.B) {
	for _, sz := range benchSizes {
		inv, err := Check(benchInvoice(b, sz.n), testOpts)
		require.NoError(b, err)
		b.Run(sz.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = inv.Digest()
			}
		})
	}
}
