package sandbox_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/irpgate/irpgate/services/sandbox"
	"github.com/irpgate/irpgate/services/sandbox/sandboxtest"
)

func ist(y int, m time.Month, d, h, mi int) time.Time {
	return time.Date(y, m, d, h, mi, 0, 0, sandbox.IST)
}

// IRNs that NIC's sandbox really issued (reference §4.1).
func TestGenerateReproducesNICSandboxIRNs(t *testing.T) {
	cases := []struct {
		name, seller, buyer, typ, no, dt string
		now                              time.Time
		irn                              string
	}{
		{"INV SINV-CFY-00067", "01AMBPG7773M002", "29AWGPV7107B1Z1", "INV", "SINV-CFY-00067", "16/09/2022", ist(2022, 9, 16, 15, 8), "706daeccda0ef6f818da78f3a2a05a1288731057373002289b46c3229289a2e7"},
		{"CRN g2qxhY", "01AMBPG7773M002", "29AWGPV7107B1Z1", "CRN", "g2qxhY", "17/09/2022", ist(2022, 9, 17, 11, 0), "1c96258af085e45da556494ea5e5a7b401a598ab80af4136309c2dac7b54d795"},
		{"INV 9sQ5E2", "02AMBPG7773M002", "29AWGPV7107B1Z1", "INV", "9sQ5E2", "02/10/2023", ist(2023, 10, 3, 15, 8), "2ecc42a8e81dcbbb56923e4bd046c861ce7374060bd31875ce35447e922c9399"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := sandboxtest.Start(t, sandboxtest.WithClock(sandbox.NewManualClock(tc.now)))
			c := login(t, srv, srv.URL, tc.seller)
			env, r := c.generate(invoice(tc.seller, tc.buyer, tc.typ, tc.no, tc.dt, 2))
			require.Equal(t, 1, env.Status, env.ErrorDetails)
			require.Equal(t, tc.irn, r.Irn)
			require.Equal(t, "ACT", r.Status)
			require.Equal(t, tc.now.Format("2006-01-02 15:04:05"), r.AckDt)
			ack := strconv.FormatInt(r.AckNo, 10)
			require.Len(t, ack, 15)
			require.Equal(t, tc.now.Format("06"), ack[2:4], "AckNo digits 3-4 are the year")
			require.Nil(t, r.EwbNo)

			_, p := verifyJWS(t, r.SignedInvoice, srv.Certificate())
			require.Equal(t, "NIC Sandbox", p["iss"])
			data, ok := p["data"].(string)
			require.True(t, ok, "data is a JSON string")
			var signed map[string]any
			require.NoError(t, json.Unmarshal([]byte(data), &signed))
			require.Equal(t, float64(r.AckNo), signed["AckNo"])
			require.Equal(t, r.AckDt, signed["AckDt"])
			require.Equal(t, tc.irn, signed["Irn"])
			require.Equal(t, tc.typ, signed["DocDtls"].(map[string]any)["Typ"])
			require.Regexp(t, `^\{"AckNo":\d{15},"AckDt":"[^"]+","Irn":"[0-9a-f]{64}","Version":"1.1",`, data)

			_, q := verifyJWS(t, r.SignedQRCode, srv.Certificate())
			qd := q["data"].(string)
			want := fmt.Sprintf(`{"SellerGstin":%q,"BuyerGstin":%q,"DocNo":%q,"DocTyp":%q,"DocDt":%q,"TotInvVal":2360,"ItemCnt":2,"MainHsnCode":"73181500","Irn":%q,"IrnDt":%q}`,
				tc.seller, tc.buyer, tc.no, tc.typ, tc.dt, tc.irn, r.AckDt)
			require.JSONEq(t, want, qd)
			require.Regexp(t, `^\{"SellerGstin":.*"BuyerGstin":.*"DocNo":.*"DocTyp":.*"DocDt":.*"TotInvVal":.*"ItemCnt":.*"MainHsnCode":.*"Irn":.*"IrnDt":.*\}$`, qd)

			regs := srv.Registered()
			require.Len(t, regs, 1)
			require.Equal(t, tc.irn, regs[0].Irn)
			require.Equal(t, sandbox.NIC1, regs[0].Instance)
		})
	}
}

func TestGenerateUpperCasesDocNumberFromJune2025(t *testing.T) {
	srv := sandboxtest.Start(t, sandboxtest.WithClock(sandbox.NewManualClock(ist(2025, 7, 14, 12, 0))))
	c := login(t, srv, srv.URL, "37ARZPT4384Q1MT")
	inv := invoice("37ARZPT4384Q1MT", "29AWGPV7107B1Z1", "inv", "Test-00df1", "14/07/2025", 1)
	env, r := c.generate(inv)
	require.Equal(t, 1, env.Status, env.ErrorDetails)
	require.Equal(t, "INV", srv.Registered()[0].DocType)
	env, _ = c.generate(invoice("37ARZPT4384Q1MT", "29AWGPV7107B1Z1", "INV", "TEST-00DF1", "14/07/2025", 1))
	require.Equal(t, []string{"2150"}, env.codes(), "the upper-cased number is the same document")
	var dup struct{ Irn string }
	require.NoError(t, json.Unmarshal(env.info("DUPIRN"), &dup))
	require.Equal(t, r.Irn, dup.Irn)
}

func TestGenerateDuplicate2150CarriesOriginal(t *testing.T) {
	srv := sandboxtest.Start(t)
	c := login(t, srv, srv.URL, seller)
	inv := invoice(seller, "29AWGPV7107B1Z1", "INV", "DUP-1", srv.Clock.Now().In(sandbox.IST).Format("02/01/2006"), 1)
	env, r := c.generate(inv)
	require.Equal(t, 1, env.Status, env.ErrorDetails)
	srv.Clock.Advance(time.Minute)
	env, _ = c.generate(inv)
	require.Equal(t, 0, env.Status)
	require.Equal(t, []nicErr{{"2150", "Duplicate IRN"}}, env.ErrorDetails)
	require.Equal(t, "null", string(env.Data))
	var dup struct {
		AckNo int64
		AckDt string
		Irn   string
	}
	require.NoError(t, json.Unmarshal(env.info("DUPIRN"), &dup))
	require.Equal(t, r.AckNo, dup.AckNo)
	require.Equal(t, r.AckDt, dup.AckDt)
	require.Equal(t, r.Irn, dup.Irn)
	require.Equal(t, int64(1), srv.Stats().Duplicates)
}

func today(srv *sandboxtest.Server) string {
	return srv.Clock.Now().In(sandbox.IST).Format("02/01/2006")
}

func TestGenerateRefusals(t *testing.T) {
	srv := sandboxtest.Start(t)
	dt := today(srv)
	future := srv.Clock.Now().AddDate(0, 0, 2).In(sandbox.IST).Format("02/01/2006")
	old := srv.Clock.Now().AddDate(0, 0, -40).In(sandbox.IST).Format("02/01/2006")
	buyer := "29AWGPV7107B1Z1"
	edit := func(inv map[string]any, f func(map[string]any)) map[string]any { f(inv); return inv }
	cases := []struct {
		name  string
		gstin string
		inv   map[string]any
		code  string
	}{
		{"2163 future document date", seller, invoice(seller, buyer, "INV", "R-1", future, 1), "2163"},
		{"2163 outside the 30-day window of a large taxpayer", sandbox.GSTINLarge, invoice(sandbox.GSTINLarge, "27AAAPI3182M002", "INV", "R-2", old, 1), "2163"},
		{"2189 total invoice value off by more than 1 rupee", seller, edit(invoice(seller, buyer, "INV", "R-3", dt, 1), func(m map[string]any) { m["ValDtls"].(map[string]any)["TotInvVal"] = 1190 }), "2189"},
		{"2178 PIN not in the seller's state", seller, edit(invoice(seller, buyer, "INV", "R-4", dt, 1), func(m map[string]any) { m["SellerDtls"].(map[string]any)["Pin"] = 560001 }), "2178"},
		{"2258 seller GSTIN state prefix differs from Stcd", seller, edit(invoice(seller, buyer, "INV", "R-5", dt, 1), func(m map[string]any) {
			m["SellerDtls"].(map[string]any)["Stcd"] = "02"
			m["SellerDtls"].(map[string]any)["Pin"] = 171001
		}), "2258"},
		{"2174 CGST/SGST on an inter-state supply", seller, edit(invoice(seller, buyer, "INV", "R-6", dt, 1), func(m map[string]any) {
			it := m["ItemList"].([]item)[0]
			delete(it, "IgstAmt")
			it["CgstAmt"], it["SgstAmt"] = 90, 90
			v := m["ValDtls"].(map[string]any)
			delete(v, "IgstVal")
			v["CgstVal"], v["SgstVal"] = 90, 90
		}), "2174"},
		{"2191 credit note without preceding document", seller, edit(invoice(seller, buyer, "CRN", "R-7", dt, 1), func(m map[string]any) { delete(m, "RefDtls") }), "2191"},
		{"2173 more than 1000 items", seller, invoice(seller, buyer, "INV", "R-8", dt, 1001), "2173"},
		{"2140 schema: missing ValDtls", seller, edit(invoice(seller, buyer, "INV", "R-9", dt, 1), func(m map[string]any) { delete(m, "ValDtls") }), "2140"},
		{"2143 seller is not the authenticated GSTIN", seller, invoice("02AMBPG7773M002", buyer, "INV", "R-10", dt, 1), "2143"},
		{"3028 buyer not in the GSTIN master (valid check digit)", seller, invoice(seller, "27AABCU9603R1ZN", "INV", "R-11", dt, 1), "3028"},
		{"3028 buyer GSTIN with a wrong check digit", seller, invoice(seller, "27AABCU9603R1ZM", "INV", "R-17", dt, 1), "3028"},
		{"3029 buyer inactive", seller, invoice(seller, sandbox.GSTINInactive, "INV", "R-12", dt, 1), "3029"},
		{"3074 buyer cancelled before the document date", seller, invoice(seller, sandbox.GSTINCancelled, "INV", "R-13", dt, 1), "3074"},
		{"3075 buyer cancelled without de-registration date", seller, invoice(seller, sandbox.GSTINCancelledNoDate, "INV", "R-14", dt, 1), "3075"},
		{"2231 SEZ supplier", sandbox.GSTINSEZ, invoice(sandbox.GSTINSEZ, "27AAAPI3182M002", "INV", "R-15", dt, 1), "2231"},
		{"2247 SEZWP to a non-SEZ recipient", seller, edit(invoice(seller, buyer, "INV", "R-16", dt, 1), func(m map[string]any) { m["TranDtls"].(map[string]any)["SupTyp"] = "SEZWP" }), "2247"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := login(t, srv, srv.URL, tc.gstin)
			env, _ := c.generate(tc.inv)
			require.Equal(t, http.StatusOK, env.HTTPStatus)
			require.Equal(t, 0, env.Status)
			require.Contains(t, env.codes(), tc.code, "%+v", env.ErrorDetails)
			for _, e := range env.ErrorDetails {
				require.NotEmpty(t, e.ErrorMessage)
			}
		})
	}
	require.Empty(t, srv.Registered(), "nothing refused is registered")
}

// The registry lives in memory, so a sandbox started again has forgotten what it issued; its
// AckNos still never repeat one issued before, as NIC's do not.
func TestAckNoDoesNotRepeatAfterARestart(t *testing.T) {
	now := time.Now().In(sandbox.IST)
	clk := sandbox.NewManualClock(now)
	first := sandboxtest.Start(t, sandboxtest.WithClock(clk))
	c := login(t, first, first.URL, seller)
	var before int64
	for i := range 5 {
		env, r := c.generate(invoice(seller, "29AWGPV7107B1Z1", "INV", fmt.Sprintf("R-%d", i), today(first), 1))
		require.Equal(t, 1, env.Status, env.ErrorDetails)
		before = max(before, r.AckNo)
	}

	clk.Advance(time.Second) // the same process or another, a moment later
	again := sandboxtest.Start(t, sandboxtest.WithClock(clk))
	c = login(t, again, again.URL, seller)
	env, r := c.generate(invoice(seller, "29AWGPV7107B1Z1", "INV", "R-0", today(again), 1))
	require.Equal(t, 1, env.Status, env.ErrorDetails)
	require.Greater(t, r.AckNo, before, "a restarted sandbox continues past the AckNos it issued")
	require.Equal(t, now.Format("06"), strconv.FormatInt(r.AckNo, 10)[2:4])
}

func TestGenerateConcurrent(t *testing.T) {
	srv := sandboxtest.Start(t)
	c := login(t, srv, srv.URL, seller)
	dt := today(srv)
	const n = 500
	acks := make([]int64, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			env, r := c.generate(invoice(seller, "29AWGPV7107B1Z1", "INV", fmt.Sprintf("C-%d", i), dt, 3))
			if env.Status == 1 {
				acks[i] = r.AckNo
			}
		})
	}
	wg.Wait()
	seen := map[int64]bool{}
	for _, a := range acks {
		require.NotZero(t, a)
		require.False(t, seen[a], "AckNo %d issued twice", a)
		seen[a] = true
	}

	t.Run("one document sent 50 times at once is registered once", func(t *testing.T) {
		inv := invoice(seller, "29AWGPV7107B1Z1", "INV", "SAME-1", dt, 3)
		var mu sync.Mutex
		ok, dups := 0, map[int64]int{}
		for range 50 {
			wg.Go(func() {
				env, r := c.generate(inv)
				mu.Lock()
				defer mu.Unlock()
				if env.Status == 1 {
					ok++
					dups[r.AckNo]++
					return
				}
				var d struct{ AckNo int64 }
				_ = json.Unmarshal(env.info("DUPIRN"), &d)
				dups[d.AckNo]++
			})
		}
		wg.Wait()
		require.Equal(t, 1, ok)
		require.Len(t, dups, 1, "every duplicate names the one registration")
	})
}
