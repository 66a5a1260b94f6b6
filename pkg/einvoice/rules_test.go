package einvoice

import (
	"encoding/json"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

type jmap = map[string]any

func load(t testing.TB, name string) jmap {
	t.Helper()
	b, err := os.ReadFile("testdata/valid/" + name + ".json")
	require.NoError(t, err)
	var m jmap
	d := json.NewDecoder(strings.NewReader(string(b)))
	d.UseNumber()
	require.NoError(t, d.Decode(&m))
	return m
}

func obj(m jmap, keys ...string) jmap {
	for _, k := range keys {
		m = m[k].(jmap)
	}
	return m
}

func item(m jmap, i int) jmap { return m["ItemList"].([]any)[i].(jmap) }

func violations(t *testing.T, m jmap, opts Options) []Violation {
	t.Helper()
	b, err := json.Marshal(m)
	require.NoError(t, err)
	_, err = Check(b, opts)
	if err == nil {
		return nil
	}
	var ve *ValidationError
	require.ErrorAs(t, err, &ve, "%v", err)
	return ve.Violations
}

// TestRules: each case names the rule and the NIC code; the base document passes, the mutated one
// must fail with exactly that field, reason and code among its violations.
func TestRules(t *testing.T) {
	cases := []struct {
		name   string
		base   string
		opts   *Options
		mutate func(m jmap)
		field  string
		reason string
		nic    string
	}{
		// schema
		{"SupTyp enum", "b2b_intra_goods_inv", nil, func(m jmap) { obj(m, "TranDtls")["SupTyp"] = "B2C" }, "TranDtls -> SupTyp", ReasonInvalidEnum, ""},
		{"TaxSch required", "b2b_intra_goods_inv", nil, func(m jmap) { delete(obj(m, "TranDtls"), "TaxSch") }, "TranDtls -> TaxSch", ReasonRequired, ""},
		{"unknown field reported", "b2b_intra_goods_inv", nil, func(m jmap) { obj(m, "DocDtls")["Foo"] = 1 }, "DocDtls -> Foo", ReasonUnknownField, ""},
		{"amount as string is a type error", "b2b_intra_goods_inv", nil, func(m jmap) { item(m, 1)["GstRt"] = "12" }, "ItemList[1] -> GstRt", ReasonInvalidType, ""},
		{"required number absent (not zero)", "b2b_intra_goods_inv", nil, func(m jmap) { delete(item(m, 0), "AssAmt") }, "ItemList[0] -> AssAmt", ReasonRequired, ""},
		{"DocDtls No cannot start with 0", "b2b_intra_goods_inv", nil, func(m jmap) { obj(m, "DocDtls")["No"] = "0123" }, "DocDtls -> No", ReasonInvalidFormat, ""},
		{"DocDtls No cannot start with /", "b2b_intra_goods_inv", nil, func(m jmap) { obj(m, "DocDtls")["No"] = "/123" }, "DocDtls -> No", ReasonInvalidFormat, ""},
		{"DocDtls No at most 16", "b2b_intra_goods_inv", nil, func(m jmap) { obj(m, "DocDtls")["No"] = "A1234567890123456" }, "DocDtls -> No", ReasonInvalidLength, ""},
		{"date pattern years 2010-2029", "b2b_intra_goods_inv", nil, func(m jmap) { obj(m, "DocDtls")["Dt"] = "02/12/2030" }, "DocDtls -> Dt", ReasonInvalidFormat, ""},
		{"Pin range", "b2b_intra_goods_inv", nil, func(m jmap) { obj(m, "SellerDtls")["Pin"] = json.Number("56001") }, "SellerDtls -> Pin", ReasonOutOfRange, ""},
		{"HSN shape 4/6/8 digits", "b2b_intra_goods_inv", nil, func(m jmap) { item(m, 0)["HsnCd"] = "84713" }, "ItemList[0] -> HsnCd", ReasonInvalidFormat, ""},
		{"ItemList empty 2228", "b2b_intra_goods_inv", nil, func(m jmap) { m["ItemList"] = []any{} }, "ItemList", ReasonItemCount, "2228"},
		{"ItemList over 1000 2173", "b2b_minimal_inv", nil, func(m jmap) {
			it := item(m, 0)
			list := make([]any, 1001)
			for i := range list {
				c := jmap{}
				for k, v := range it {
					c[k] = v
				}
				c["SlNo"] = itoa(i + 1)
				list[i] = c
			}
			m["ItemList"] = list
		}, "ItemList", ReasonItemCount, "2173"},
		{"free text has no double quote", "b2b_intra_goods_inv", nil, func(m jmap) { obj(m, "SellerDtls")["LglNm"] = `Acme "Best" Ltd` }, "SellerDtls -> LglNm", ReasonInvalidFormat, ""},
		{"optional empty string is too short", "b2b_intra_goods_inv", nil, func(m jmap) { obj(m, "SellerDtls")["Addr2"] = "" }, "SellerDtls -> Addr2", ReasonInvalidLength, ""},

		// parties
		{"supplier GSTIN state equals Stcd 2258", "b2b_intra_goods_inv", nil, func(m jmap) {
			obj(m, "SellerDtls")["Stcd"] = "32"
			obj(m, "SellerDtls")["Pin"] = json.Number("682001")
		}, "SellerDtls -> Stcd", ReasonGSTINStateMismatch, "2258"},
		{"recipient GSTIN state equals Stcd 2265", "b2b_intra_goods_inv", nil, func(m jmap) {
			obj(m, "BuyerDtls")["Stcd"] = "33"
			obj(m, "BuyerDtls")["Pin"] = json.Number("600001")
		}, "BuyerDtls -> Stcd", ReasonGSTINStateMismatch, "2265"},
		{"supplier differs from recipient 2211", "b2b_intra_goods_inv", nil, func(m jmap) { obj(m, "BuyerDtls")["Gstin"] = "29AWGPV7107B1Z1" }, "BuyerDtls -> Gstin", ReasonSameParty, "2211"},
		{"PIN belongs to state 2178", "b2b_intra_goods_inv", nil, func(m jmap) { obj(m, "SellerDtls")["Pin"] = json.Number("110001") }, "SellerDtls -> Pin", ReasonPINNotInState, "2178"},
		{"GSTIN check digit 3028", "b2b_intra_goods_inv", nil, func(m jmap) { obj(m, "BuyerDtls")["Gstin"] = "29AAACP7879D1Z9" }, "BuyerDtls -> Gstin", ReasonInvalidGSTIN, "3028"},
		{"sandbox GSTIN refused without the switch 3028", "b2b_intra_goods_inv", &Options{Now: testOpts.Now}, func(m jmap) {}, "SellerDtls -> Gstin", ReasonInvalidGSTIN, "3028"},
		{"ECOM GSTIN must be TCS 2195", "b2b_intra_goods_inv", nil, func(m jmap) { obj(m, "TranDtls")["EcmGstin"] = "29AAACP7879D1Z0" }, "TranDtls -> EcmGstin", ReasonEcmNotTCS, "2195"},
		{"recipient PIN mandatory 2244", "b2b_intra_goods_inv", nil, func(m jmap) { delete(obj(m, "BuyerDtls"), "Pin") }, "BuyerDtls -> Pin", ReasonPINRequired, "2244"},
		{"invalid POS state 2243", "b2b_intra_goods_inv", nil, func(m jmap) { obj(m, "BuyerDtls")["Pos"] = "28" }, "BuyerDtls -> Pos", ReasonInvalidStateCode, "2243"},

		// dates
		{"document date not in future 2163", "b2b_intra_goods_inv", nil, func(m jmap) { obj(m, "DocDtls")["Dt"] = "16/01/2025" }, "DocDtls -> Dt", ReasonFutureDate, "2163"},
		{"document date is a calendar date 2225", "b2b_intra_goods_inv", nil, func(m jmap) { obj(m, "DocDtls")["Dt"] = "31/11/2024" }, "DocDtls -> Dt", ReasonInvalidDate, "2225"},
		{"30-day reporting window", "b2b_inter_goods_ewb_inv", &Options{Now: time.Date(2024, 12, 31, 9, 0, 0, 0, IST), AcceptSandboxGSTINs: true, ReportingWindowDays: 30}, func(m jmap) { obj(m, "DocDtls")["Dt"] = "20/11/2024" }, "DocDtls -> Dt", ReasonReportingWindow, ""},

		// supply type and tax heads
		{"intra-state has no IGST 2172", "b2b_intra_goods_inv", nil, func(m jmap) { item(m, 0)["IgstAmt"] = json.Number("10") }, "ItemList[0] -> IgstAmt", ReasonTaxHeadMismatch, "2172"},
		{"inter-state has no CGST/SGST 2174", "b2b_inter_goods_ewb_inv", nil, func(m jmap) { item(m, 2)["CgstAmt"] = json.Number("1") }, "ItemList[2] -> CgstAmt", ReasonTaxHeadMismatch, "2174"},
		{"CGST equals SGST 2227", "b2b_intra_goods_inv", nil, func(m jmap) { item(m, 1)["SgstAmt"] = json.Number("749") }, "ItemList[1] -> SgstAmt", ReasonUnequalHalves, "2227"},
		{"IgstOnIntra needs supplier state = POS 2262", "b2b_igst_on_intra_inv", nil, func(m jmap) {
			obj(m, "BuyerDtls")["Pos"] = "33"
		}, "TranDtls -> IgstOnIntra", ReasonIgstOnIntra, "2262"},
		{"export has no CGST/SGST 2180", "expwp_ewb_inv", nil, func(m jmap) { item(m, 0)["CgstAmt"] = json.Number("1") }, "ItemList[0] -> CgstAmt", ReasonTaxHeadMismatch, "2180"},
		{"export recipient is URP 2248", "expwp_ewb_inv", nil, func(m jmap) { obj(m, "BuyerDtls")["Gstin"] = "29AAACP7879D1Z0" }, "BuyerDtls -> Gstin", ReasonURPRequired, "2248"},
		{"export POS is 96 2232", "expwop_inv", nil, func(m jmap) { obj(m, "BuyerDtls")["Pos"] = "27" }, "BuyerDtls -> Pos", ReasonExport, "2232"},
		{"export recipient state is 96 2261", "expwop_inv", nil, func(m jmap) { obj(m, "BuyerDtls")["Stcd"] = "27" }, "BuyerDtls -> Stcd", ReasonExport, "2261"},
		{"SEZ has no CGST/SGST 2237", "sezwp_inv", nil, func(m jmap) { item(m, 0)["SgstAmt"] = json.Number("1") }, "ItemList[0] -> CgstAmt", ReasonTaxHeadMismatch, "2237"},
		{"deemed export recipient not URP 2171", "dexp_inv", nil, func(m jmap) { obj(m, "BuyerDtls")["Gstin"] = "URP" }, "BuyerDtls -> Gstin", ReasonURPNotAllowed, "2171"},
		{"B2B recipient not URP 2212", "b2b_intra_goods_inv", nil, func(m jmap) { obj(m, "BuyerDtls")["Gstin"] = "URP" }, "BuyerDtls -> Gstin", ReasonURPNotAllowed, "2212"},
		{"POS 96 only for exports 2242", "b2b_intra_goods_inv", nil, func(m jmap) { obj(m, "BuyerDtls")["Pos"] = "96" }, "BuyerDtls -> Pos", ReasonPOSMismatch, "2242"},
		{"reverse charge only B2B 2162", "sezwp_inv", nil, func(m jmap) { obj(m, "TranDtls")["RegRev"] = "Y" }, "TranDtls -> RegRev", ReasonReverseCharge, "2162"},
		{"ship-to state equals POS for B2B 2245", "b2b_inter_goods_ewb_inv", nil, func(m jmap) {
			obj(m, "ShipDtls")["Stcd"] = "07"
			obj(m, "ShipDtls")["Pin"] = json.Number("110001")
		}, "ShipDtls -> Stcd", ReasonPOSMismatch, "2245"},
		{"goods and services mix with IgstOnIntra 2249", "b2b_igst_on_intra_inv", nil, func(m jmap) {
			it := jmap{}
			for k, v := range item(m, 0) {
				it[k] = v
			}
			it["SlNo"], it["IsServc"], it["HsnCd"] = "2", "Y", "998314"
			m["ItemList"] = append(m["ItemList"].([]any), it)
		}, "ItemList", ReasonGoodsServicesMix, "2249"},

		// preceding documents
		{"CRN needs preceding document 2191", "b2b_intra_crn", nil, func(m jmap) { delete(m, "RefDtls") }, "RefDtls -> PrecDocDtls", ReasonPrecedingRequired, "2191"},
		{"INV has no preceding document 2210", "b2b_intra_goods_inv", nil, func(m jmap) {
			m["RefDtls"] = jmap{"PrecDocDtls": []any{jmap{"InvNo": "AB1", "InvDt": "01/12/2024"}}}
		}, "RefDtls -> PrecDocDtls", ReasonPrecedingNotAllowed, "2210"},

		// items
		{"duplicate SlNo 2233", "b2b_intra_goods_inv", nil, func(m jmap) { item(m, 1)["SlNo"] = "1" }, "ItemList[1] -> SlNo", ReasonDuplicateSlNo, "2233"},
		{"GST rate in master 2240", "b2b_intra_goods_inv", nil, func(m jmap) { item(m, 1)["GstRt"] = json.Number("13") }, "ItemList[1] -> GstRt", ReasonInvalidGSTRate, "2240"},
		{"unit in UQC master 2177", "b2b_intra_goods_inv", nil, func(m jmap) { item(m, 0)["Unit"] = "PIECE" }, "ItemList[0] -> Unit", ReasonInvalidUnit, "2177"},
		{"service HSN starts with 99 2176", "b2b_inter_services_inv", nil, func(m jmap) { item(m, 0)["HsnCd"] = "8471" }, "ItemList[0] -> HsnCd", ReasonInvalidHSN, "2176"},
		{"quantity for goods 2238", "b2b_intra_goods_inv", nil, func(m jmap) { delete(item(m, 0), "Qty") }, "ItemList[0] -> Qty", ReasonQtyRequired, "2238"},
		{"unit for goods 2239", "b2b_intra_goods_inv", nil, func(m jmap) { delete(item(m, 0), "Unit") }, "ItemList[0] -> Unit", ReasonUnitRequired, "2239"},
		{"TotAmt = Qty x UnitPrice 2192 (switch on)", "b2b_intra_goods_inv", &Options{Now: testOpts.Now, AcceptSandboxGSTINs: true, EnforceQtyTimesPrice: true}, func(m jmap) { item(m, 0)["Qty"] = json.Number("3") }, "ItemList[0] -> TotAmt", ReasonItemArithmetic, "2192"},
		{"AssAmt = TotAmt - Discount 2193", "b2b_intra_goods_inv", nil, func(m jmap) { item(m, 0)["Discount"] = json.Number("600") }, "ItemList[0] -> AssAmt", ReasonItemArithmetic, "2193"},
		{"TotItemVal 2194", "b2b_intra_goods_inv", nil, func(m jmap) { item(m, 0)["OthChrg"] = json.Number("5") }, "ItemList[0] -> TotItemVal", ReasonItemArithmetic, "2194"},
		{"IGST = AssAmt x rate 2235", "b2b_inter_goods_ewb_inv", nil, func(m jmap) { item(m, 0)["IgstAmt"] = json.Number("300") }, "ItemList[0] -> IgstAmt", ReasonTaxAmount, "2235"},
		{"cess = AssAmt x rate 2266", "b2b_inter_goods_ewb_inv", nil, func(m jmap) { item(m, 1)["CesAmt"] = json.Number("1") }, "ItemList[1] -> CesAmt", ReasonTaxAmount, "2266"},
		{"origin country in master 2202", "b2b_intra_goods_inv", nil, func(m jmap) { item(m, 0)["OrgCntry"] = "XX" }, "ItemList[0] -> OrgCntry", ReasonInvalidMaster, "2202"},

		// totals
		{"AssVal = sum of AssAmt 2182", "b2b_intra_goods_inv", nil, func(m jmap) { obj(m, "ValDtls")["AssVal"] = json.Number("1") }, "ValDtls -> AssVal", ReasonTotalMismatch, "2182"},
		{"SgstVal 2183", "b2b_intra_goods_inv", nil, func(m jmap) { obj(m, "ValDtls")["SgstVal"] = json.Number("1") }, "ValDtls -> SgstVal", ReasonTotalMismatch, "2183"},
		{"CgstVal 2184", "b2b_intra_goods_inv", nil, func(m jmap) { obj(m, "ValDtls")["CgstVal"] = json.Number("1") }, "ValDtls -> CgstVal", ReasonTotalMismatch, "2184"},
		{"IgstVal 2185", "b2b_inter_goods_ewb_inv", nil, func(m jmap) { obj(m, "ValDtls")["IgstVal"] = json.Number("1") }, "ValDtls -> IgstVal", ReasonTotalMismatch, "2185"},
		{"CesVal 2186", "b2b_inter_goods_ewb_inv", nil, func(m jmap) { obj(m, "ValDtls")["CesVal"] = json.Number("0") }, "ValDtls -> CesVal", ReasonTotalMismatch, "2186"},
		{"TotInvVal 2189", "b2b_intra_goods_inv", nil, func(m jmap) { obj(m, "ValDtls")["TotInvVal"] = json.Number("10") }, "ValDtls -> TotInvVal", ReasonTotalMismatch, "2189"},
		{"TotInvVal within ±1 passes, beyond fails 2189", "b2b_intra_goods_inv", nil, func(m jmap) {
			v, _ := obj(m, "ValDtls")["TotInvVal"].(json.Number).Float64()
			obj(m, "ValDtls")["TotInvVal"] = json.Number(fmtNum(v + 1.02))
		}, "ValDtls -> TotInvVal", ReasonTotalMismatch, "2189"},
		{"discount below invoice value 2220", "b2b_minimal_inv", nil, func(m jmap) {
			obj(m, "ValDtls")["Discount"] = json.Number("105")
			obj(m, "ValDtls")["TotInvVal"] = json.Number("0")
		}, "ValDtls -> Discount", ReasonDiscountTooHigh, "2220"},

		// exports and e-way bill
		{"port in master 2201", "expwop_inv", nil, func(m jmap) { obj(m, "ExpDtls")["Port"] = "INXXX9" }, "ExpDtls -> Port", ReasonInvalidMaster, "2201"},
		{"currency in master 2203", "expwop_inv", nil, func(m jmap) { obj(m, "ExpDtls")["ForCur"] = "ABC" }, "ExpDtls -> ForCur", ReasonInvalidMaster, "2203"},
		{"no EWB for a CRN 2252", "b2b_intra_crn", nil, func(m jmap) { m["EwbDtls"] = jmap{"Distance": json.Number("10"), "TransId": "05AAACG2115R1ZN"} }, "EwbDtls", ReasonEwayBill, "2252"},
		{"no EWB for services only 2251", "b2b_inter_services_inv", nil, func(m jmap) { m["EwbDtls"] = jmap{"Distance": json.Number("10"), "TransId": "05AAACG2115R1ZN"} }, "EwbDtls", ReasonEwayBill, "2251"},
		{"road needs vehicle number 2253", "b2b_inter_goods_ewb_inv", nil, func(m jmap) { delete(obj(m, "EwbDtls"), "VehNo") }, "EwbDtls -> VehNo", ReasonEwayBill, "2253"},
		{"vehicle number format 4014", "b2b_inter_goods_ewb_inv", nil, func(m jmap) { obj(m, "EwbDtls")["VehNo"] = "12345678" }, "EwbDtls -> VehNo", ReasonEwayBill, "4014"},
		{"rail needs transport document 2254", "b2b_inter_goods_ewb_inv", nil, func(m jmap) { obj(m, "EwbDtls")["TransMode"] = "2" }, "EwbDtls -> TransDocNo", ReasonEwayBill, "2254"},
		{"EWB distance required", "b2b_inter_goods_ewb_inv", nil, func(m jmap) { delete(obj(m, "EwbDtls"), "Distance") }, "EwbDtls -> Distance", ReasonRequired, ""},
		{"export EWB ship-to not abroad 4032", "expwp_ewb_inv", nil, func(m jmap) {
			obj(m, "ShipDtls")["Stcd"] = "96"
			obj(m, "ShipDtls")["Pin"] = json.Number("999999")
		}, "ShipDtls -> Stcd", ReasonEwayBill, "4032"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opts := testOpts
			if tc.opts != nil {
				opts = *tc.opts
			}
			if tc.opts == nil || tc.opts.AcceptSandboxGSTINs {
				require.Empty(t, violations(t, load(t, tc.base), opts), "the base document must pass")
			}
			m := load(t, tc.base)
			tc.mutate(m)
			vs := violations(t, m, opts)
			found := false
			for _, v := range vs {
				if v.Field == tc.field && v.Reason == tc.reason && v.NICCode == tc.nic {
					found = true
					require.Contains(t, v.Message, tc.field)
				}
			}
			require.True(t, found, "want %s %s %s; got %+v", tc.field, tc.reason, tc.nic, vs)
		})
	}
}

func TestAllViolationsInOnePass(t *testing.T) {
	m := load(t, "b2b_intra_goods_inv")
	obj(m, "TranDtls")["SupTyp"] = "B2C"
	item(m, 0)["GstRt"] = json.Number("13")
	item(m, 1)["SlNo"] = "1"
	obj(m, "ValDtls")["AssVal"] = "lots"
	obj(m, "SellerDtls")["Colour"] = "blue"
	vs := violations(t, m, testOpts)
	fields := map[string]bool{}
	for _, v := range vs {
		fields[v.Field] = true
	}
	for _, f := range []string{"TranDtls -> SupTyp", "ItemList[0] -> GstRt", "ItemList[1] -> SlNo", "ValDtls -> AssVal", "SellerDtls -> Colour"} {
		require.True(t, fields[f], "missing %s in %+v", f, vs)
	}
}

func TestKeysAnyCasing(t *testing.T) {
	data, err := os.ReadFile("testdata/valid/b2b_minimal_inv.json")
	require.NoError(t, err)
	lower := strings.NewReplacer(`"SellerDtls"`, `"sellerdtls"`, `"Gstin"`, `"GSTIN"`, `"ItemList"`, `"itemlist"`).Replace(string(data))
	inv, err := Check([]byte(lower), testOpts)
	require.NoError(t, err)
	require.Equal(t, "02AMBPG7773M002", inv.SellerGSTIN())
	require.Len(t, inv.ItemList, 1)
}

// A UTF-8 byte order mark before the document, which Windows tools write, is ignored
// (RFC 8259 §8.1 allows it), and the document reads the same as without it; a stray
// non-ASCII byte where a value belongs is named in hex, not as a Latin-1 character.
func TestByteOrderMarkIgnored(t *testing.T) {
	data, err := os.ReadFile("testdata/valid/b2b_minimal_inv.json")
	require.NoError(t, err)
	withBOM := append([]byte{0xEF, 0xBB, 0xBF}, data...)
	inv, err := Check(withBOM, testOpts)
	require.NoError(t, err)
	plain, err := Check(data, testOpts)
	require.NoError(t, err)
	require.Equal(t, plain.Digest(), inv.Digest())
	require.Equal(t, data, TrimBOM(withBOM))
	require.Equal(t, data, TrimBOM(data))

	_, err = Check([]byte("{\"Version\": \xc3\xa9}"), testOpts)
	require.ErrorContains(t, err, "unexpected byte 0xC3")
	_, err = Check(append([]byte{0xEF, 0xBB, 0xBF}, `{"Version": x}`...), testOpts)
	require.ErrorContains(t, err, "at byte 15: unexpected 'x'", "positions count the mark")
}

// TestDuplicateFieldsRefused: a field given twice (in any casing) is refused, whichever value
// comes first, and the rest of the document is still checked. A reader that kept the other value
// (as the IRP's may) would register a document we never validated.
func TestDuplicateFieldsRefused(t *testing.T) {
	data, err := os.ReadFile("testdata/valid/b2b_minimal_inv.json")
	require.NoError(t, err)
	doc := string(data)
	cases := []struct{ name, from, to, field string }{
		{"number, same spelling", `"TotInvVal": 105`, `"TotInvVal": 105, "TotInvVal": 1000005`, "ValDtls -> TotInvVal"},
		{"string, other casing", `"Version": "1.1"`, `"Version": "1.1", "version": "1.0"`, "Version"},
		{"object", `"ValDtls": {`, `"valdtls": {"AssVal": 100, "IgstVal": 5, "TotInvVal": 105}, "ValDtls": {`, "ValDtls"},
		{"array", `"ItemList": [`, `"ItemList": [], "ItemList": [`, "ItemList"},
		{"field of an item", `"SlNo": "1"`, `"SlNo": "1", "SLNO": "2"`, "ItemList[0] -> SlNo"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := strings.Replace(doc, c.from, c.to, 1)
			require.NotEqual(t, doc, in)
			_, err := Check([]byte(in), testOpts)
			var ve *ValidationError
			require.ErrorAs(t, err, &ve, "%v", err)
			require.Len(t, ve.Violations, 1, "%+v", ve.Violations)
			v := ve.Violations[0]
			require.Equal(t, c.field, v.Field)
			require.Equal(t, ReasonDuplicateField, v.Reason)
			require.Contains(t, v.Message, c.field+" appears more than once")
		})
	}
	// Unknown fields given twice are unknown twice, not duplicates.
	in := strings.Replace(doc, `"Version": "1.1"`, `"Version": "1.1", "Foo": 1, "Foo": 2`, 1)
	_, err = Check([]byte(in), testOpts)
	var ve *ValidationError
	require.ErrorAs(t, err, &ve)
	for _, v := range ve.Violations {
		require.Equal(t, ReasonUnknownField, v.Reason)
	}
}

// TestStringEscapesReadAsEncodingJSON: ERPs escape what they need not (\u0026 for &,
// \u00e9, emoji as surrogate pairs, \/). Every escape reads as encoding/json reads it, a lone
// surrogate included (U+FFFD), and a broken escape is refused as invalid JSON with its place.
func TestStringEscapesReadAsEncodingJSON(t *testing.T) {
	data, err := os.ReadFile("testdata/valid/b2b_minimal_inv.json")
	require.NoError(t, err)
	doc := string(data)
	const from = `"Addr1": "`
	require.Contains(t, doc, from)
	for _, lit := range []string{
		`M\u0026S Traders`, `Caf\u00e9 \u00C9toile`, `\u0939\u093f\u0902\u0926\u0940 Road`, `Smile \ud83d\ude00 Lane`,
		`Lone \ud83d high`, `Lone \ude00 low`, `High then letter \ud83dx`, `High then high \ud83d\ud83d end`,
		`Quote \" slash \/ back \\ end`, `Tab\there`, `Line\nbreak \r\b\f`, `\u0041\u0042C`,
	} {
		t.Run(lit, func(t *testing.T) {
			in := strings.Replace(doc, from, from+lit, 1)
			inv, err := Decode([]byte(in))
			require.NoError(t, err)
			var want string
			require.NoError(t, json.Unmarshal([]byte(`"`+lit+`"`), &want))
			require.True(t, strings.HasPrefix(inv.SellerDtls.Addr1, want), "%q does not start with %q", inv.SellerDtls.Addr1, want)
		})
	}
	for lit, at := range map[string]string{`\u12G4`: "bad \\u escape", `\u12`: "bad \\u escape", `\x41`: "bad escape in a string"} {
		t.Run("broken "+lit, func(t *testing.T) {
			_, err := Decode([]byte(strings.Replace(doc, from, from+lit, 1)))
			var ve *ValidationError
			require.ErrorAs(t, err, &ve)
			require.Len(t, ve.Violations, 1)
			require.Equal(t, "INVALID_JSON", ve.Violations[0].Reason)
			require.Contains(t, ve.Violations[0].Message, at)
		})
	}
}

func TestMissingSectionReportedOnce(t *testing.T) {
	m := load(t, "b2b_minimal_inv")
	delete(m, "TranDtls")
	vs := violations(t, m, testOpts)
	n := 0
	for _, v := range vs {
		if strings.HasPrefix(v.Field, "TranDtls") {
			n++
			require.Equal(t, ReasonRequired, v.Reason)
		}
	}
	require.Equal(t, 1, n, "%+v", vs)
}

func TestInvalidJSON(t *testing.T) {
	for _, in := range []string{``, `{`, `{"Version":"1.1",}`, `[1]`, `{"Version":"1.1"} x`, `{"Version":01}`} {
		_, err := Check([]byte(in), testOpts)
		var ve *ValidationError
		require.ErrorAs(t, err, &ve, "%q", in)
	}
}

func TestPathologicalNumbersAreCheap(t *testing.T) {
	for _, lit := range []string{"1e-99999999", "-1e-99999999", "0e99999999", "1e99999999", "-0.0e-123456"} {
		in := `{"SellerDtls":{"Pin":` + lit + `},"ValDtls":{"AssVal":` + lit + `,"TotInvVal":0},"EwbDtls":{"Distance":` + lit + `}}`
		_, err := Check([]byte(in), testOpts)
		require.Error(t, err)
	}
}

// The 2240 message lists the GST rates a line may take, lowest first, the same in every
// process (the master is a set).
func TestGSTRateMessageListsRatesInOrder(t *testing.T) {
	m := load(t, "b2b_intra_goods_inv")
	item(m, 1)["GstRt"] = json.Number("13")
	var msg string
	for _, v := range violations(t, m, Options{}) {
		if v.Reason == ReasonInvalidGSTRate {
			msg = v.Message
		}
	}
	_, list, ok := strings.Cut(msg, "(allowed: ")
	require.True(t, ok, msg)
	list, _, _ = strings.Cut(list, ")")
	var rates []float64
	for _, s := range strings.Split(list, ", ") {
		r, err := strconv.ParseFloat(s, 64)
		require.NoError(t, err, s)
		rates = append(rates, r)
	}
	require.Greater(t, len(rates), 5)
	require.True(t, slices.IsSorted(rates), "rates in order: %v", rates)
	require.Contains(t, rates, 18.0)
}
