package einvoice

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/require"
)

func round2(f float64) float64 { return math.Round(f*100) / 100 }

// benchInvoice is an intra-state B2B goods invoice with n fully populated, consistent lines.
func benchInvoice(tb testing.TB, n int) []byte {
	tb.Helper()
	inv := Invoice{
		Version:    "1.1",
		TranDtls:   TranDtls{TaxSch: "GST", SupTyp: "B2B", RegRev: "N", IgstOnIntra: "N"},
		DocDtls:    DocDtls{Typ: "INV", No: "BENCH/" + strconv.Itoa(n), Dt: "02/12/2024"},
		SellerDtls: SellerDtls{Gstin: "29AWGPV7107B1Z1", LglNm: "Karnataka Traders Pvt Ltd", TrdNm: "Karnataka Traders", Addr1: "12 Main Road", Addr2: "Peenya Industrial Area", Loc: "Bengaluru", Pin: 560058, Stcd: "29", Ph: "9876543210", Em: "accounts@example.com"},
		BuyerDtls:  BuyerDtls{Gstin: "29AAACP7879D1Z0", LglNm: "Bengaluru Buyers Ltd", Pos: "29", Addr1: "7 Residency Road", Loc: "Bengaluru", Pin: 560025, Stcd: "29"},
	}
	var v ValDtls
	for i := 0; i < n; i++ {
		qty, price := float64(1+i%7), 100+float64(i%13)*17.25
		tot := round2(qty * price)
		half := round2(tot * 18 / 200)
		it := Item{
			SlNo: strconv.Itoa(i + 1), PrdDesc: "Hex bolt M8 zinc plated, box of 100", IsServc: "N", HsnCd: "73181500",
			Qty: qty, Unit: "BOX", UnitPrice: price, TotAmt: tot, AssAmt: tot, GstRt: 18, CgstAmt: half, SgstAmt: half,
			TotItemVal: round2(tot + 2*half), OrgCntry: "IN", OrdLineRef: "PO-1/" + strconv.Itoa(i),
		}
		inv.ItemList = append(inv.ItemList, it)
		v.AssVal += it.AssAmt
		v.CgstVal += half
		v.SgstVal += half
		v.TotInvVal += it.TotItemVal
	}
	v.AssVal, v.CgstVal, v.SgstVal, v.TotInvVal = round2(v.AssVal), round2(v.CgstVal), round2(v.SgstVal), round2(v.TotInvVal)
	inv.ValDtls = v
	b, err := inv.Encode()
	require.NoError(tb, err)
	_, err = Check(b, testOpts)
	require.NoError(tb, err)
	return b
}

func TestBenchInvoicesAreValidForTheOracle(t *testing.T) {
	for _, n := range []int{10, 1000} {
		require.Empty(t, oracleLocations(t, benchInvoice(t, n)))
	}
}

var benchSizes = []struct {
	name string
	n    int
}{{"10items", 10}, {"1000items", 1000}}

// BenchmarkCheck is our full validation: decode + schema + business rules.
func BenchmarkCheck(b *testing.B) {
	for _, sz := range benchSizes {
		data := benchInvoice(b, sz.n)
		b.Run(sz.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Check(data, testOpts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDecode is our decoder alone (schema checks that need the JSON, no value rules).
func BenchmarkDecode(b *testing.B) {
	for _, sz := range benchSizes {
		data := benchInvoice(b, sz.n)
		b.Run(sz.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Decode(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkEncodingJSON is the floor: encoding/json into the same struct, no checks at all.
func BenchmarkEncodingJSON(b *testing.B) {
	for _, sz := range benchSizes {
		data := benchInvoice(b, sz.n)
		b.Run(sz.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				var inv Invoice
				if err := json.Unmarshal(data, &inv); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkJSONSchema is schema-only validation of the same bytes with santhosh-tekuri/jsonschema.
func BenchmarkJSONSchema(b *testing.B) {
	sch, err := oracle()
	require.NoError(b, err)
	for _, sz := range benchSizes {
		data := benchInvoice(b, sz.n)
		b.Run(sz.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
				if err != nil {
					b.Fatal(err)
				}
				if err := sch.Validate(inst); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
