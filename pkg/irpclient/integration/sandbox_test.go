package integration

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/irpgate/irpgate/pkg/irpclient"
	"github.com/irpgate/irpgate/services/sandbox"
	"github.com/irpgate/irpgate/services/sandbox/sandboxtest"
)

const (
	seller = "29AAACP7879D1Z0" // Karnataka
	buyer  = "27AAAPI3182M002" // Maharashtra
)

type env struct {
	sb       *sandboxtest.Server
	c        *irpclient.Client
	sessions *irpclient.LocalSessions
}

func setup(t *testing.T, mut func(*irpclient.Config), opts ...sandboxtest.Option) *env {
	t.Helper()
	sb := sandboxtest.Start(t, opts...)
	cfg := irpclient.Config{
		BaseURLs:       map[string]string{irpclient.NIC1: sb.URL, irpclient.NIC2: sb.NIC2URL},
		DefaultIRP:     irpclient.NIC1,
		PublicKeys:     map[string]*rsa.PublicKey{irpclient.NIC1: sb.PublicKey(), irpclient.NIC2: sb.PublicKey()},
		RetryBaseDelay: 5 * time.Millisecond,
		RetryMaxDelay:  20 * time.Millisecond,
	}
	if mut != nil {
		mut(&cfg)
	}
	c, err := irpclient.New(cfg)
	require.NoError(t, err)
	ls := irpclient.NewLocalSessions(c, sb.Credentials(), irpclient.WithClock(sb.Clock.Now))
	return &env{sb: sb, c: c.WithSessions(ls), sessions: ls}
}

func (e *env) creds(t *testing.T, gstin string) irpclient.Credentials {
	for _, u := range e.sb.Users() {
		if u.GSTIN == gstin {
			return irpclient.Credentials{GSTIN: u.GSTIN, ClientID: u.ClientID, ClientSecret: u.ClientSecret, UserName: u.UserName, Password: u.Password}
		}
	}
	t.Fatalf("no user for %s", gstin)
	return irpclient.Credentials{}
}

var docSeq atomic.Int64

// invoice builds a valid inter-state B2B invoice of n goods lines dated today (sandbox clock).
func invoice(t testing.TB, now time.Time, docNo string, n int) []byte {
	if docNo == "" {
		docNo = fmt.Sprintf("T%d%d", now.Unix()%100000, docSeq.Add(1))
	}
	items := make([]map[string]any, n)
	for i := range items {
		items[i] = map[string]any{
			"SlNo": fmt.Sprint(i + 1), "PrdDesc": "Wheat", "IsServc": "N", "HsnCd": "1001", "Qty": 1, "Unit": "KGS",
			"UnitPrice": 100, "TotAmt": 100, "AssAmt": 100, "GstRt": 5, "IgstAmt": 5, "TotItemVal": 105,
		}
	}
	doc := map[string]any{
		"Version":    "1.1",
		"TranDtls":   map[string]any{"TaxSch": "GST", "SupTyp": "B2B"},
		"DocDtls":    map[string]any{"Typ": "INV", "No": docNo, "Dt": now.In(irpclient.IST).Format("02/01/2006")},
		"SellerDtls": map[string]any{"Gstin": seller, "LglNm": "Sample Karnataka Co", "Addr1": "MG Road", "Loc": "Bengaluru", "Pin": 560003, "Stcd": "29"},
		"BuyerDtls":  map[string]any{"Gstin": buyer, "LglNm": "Test PAN Maharashtra", "Pos": "27", "Addr1": "Fort", "Loc": "Mumbai", "Pin": 400001, "Stcd": "27"},
		"ItemList":   items,
		"ValDtls":    map[string]any{"AssVal": 100 * n, "IgstVal": 5 * n, "TotInvVal": 105 * n},
	}
	b, err := json.Marshal(doc)
	require.NoError(t, err)
	return b
}

func TestEveryAPIAgainstSandbox(t *testing.T) {
	e := setup(t, nil)
	ctx := t.Context()
	now := e.sb.Clock.Now()

	s, err := e.c.Authenticate(ctx, e.creds(t, seller), false)
	require.NoError(t, err)
	require.Len(t, s.SEK, 32)
	require.True(t, s.Expiry.After(now))

	for _, irp := range []string{irpclient.NIC1, irpclient.NIC2} {
		require.NoError(t, e.c.Health(ctx, irp), irp)
	}

	g, err := e.c.GetGSTIN(ctx, seller, buyer)
	require.NoError(t, err)
	require.Equal(t, buyer, g.Gstin)
	require.Equal(t, 27, g.StateCode)
	require.Equal(t, 400001, g.AddrPncd)
	require.True(t, g.Active())
	g, err = e.c.SyncGSTIN(ctx, seller, buyer)
	require.NoError(t, err)
	require.Equal(t, buyer, g.Gstin)

	docNo := fmt.Sprintf("EVERY%d", now.Unix()%100000)
	out, err := e.c.GenerateIRN(ctx, seller, invoice(t, now, docNo, 3))
	require.NoError(t, err)
	require.Len(t, out.Irn, 64)
	require.NotZero(t, out.AckNo)
	require.Equal(t, "ACT", out.Status)
	require.Nil(t, out.EwbNo)
	require.Len(t, strings.Split(out.SignedInvoice, "."), 3)

	got, err := e.c.GetIRN(ctx, seller, out.Irn)
	require.NoError(t, err)
	require.Equal(t, out.AckNo, got.AckNo)
	got, err = e.c.GetIRNByDocument(ctx, seller, "INV", docNo, now.In(irpclient.IST).Format("02/01/2006"))
	require.NoError(t, err)
	require.Equal(t, out.Irn, got.Irn)

	ewb, err := e.c.GenerateEWB(ctx, seller, irpclient.GenerateEWBRequest{Irn: out.Irn, Distance: 0, TransMode: "1", VehNo: "KA01AB1234", VehType: "R"})
	require.NoError(t, err)
	require.NotZero(t, ewb.EwbNo)
	ppd, ok := ewb.InfoByCode(irpclient.InfoPinDistance)
	require.True(t, ok, "distance 0 reports the IRP's PIN-to-PIN distance as EWBPPD")
	require.Contains(t, ppd.Text, "Pin-Pin calc distance")

	st, err := e.c.GetEWBByIRN(ctx, seller, out.Irn)
	require.NoError(t, err)
	require.Equal(t, ewb.EwbNo, st.EwbNo)
	require.Equal(t, "ACT", st.Status)

	// 2230: an IRN with an active e-way bill cannot be cancelled.
	_, err = e.c.CancelIRN(ctx, seller, irpclient.CancelIRNRequest{Irn: out.Irn, CnlRsn: "2", CnlRem: "wrong entry"})
	require.Equal(t, []string{"2230"}, irpclient.Codes(err))

	cewb, err := e.c.CancelEWB(ctx, seller, irpclient.CancelEWBRequest{EwbNo: ewb.EwbNo, CancelRsnCode: 2, CancelRmrk: "order cancelled"})
	require.NoError(t, err)
	require.Equal(t, ewb.EwbNo, cewb.EwbNo)
	require.NotEmpty(t, cewb.CancelDate)

	cnl, err := e.c.CancelIRN(ctx, seller, irpclient.CancelIRNRequest{Irn: out.Irn, CnlRsn: "2", CnlRem: "wrong entry"})
	require.NoError(t, err)
	require.Equal(t, out.Irn, cnl.Irn)
	require.NotEmpty(t, cnl.CancelDate)

	// Value-added sandbox APIs.
	en, err := e.c.EInvoiceEnablement(ctx, seller, buyer)
	require.NoError(t, err)
	require.True(t, en.Enabled())
	list, err := e.c.BuyerEInvoices(ctx, buyer, "", "")
	require.NoError(t, err)
	require.NotEmpty(t, list)
	require.Equal(t, out.Irn, list[0].Irn)
	found, err := e.c.SearchGSTIN(ctx, seller, "AAAPI3182M", "")
	require.NoError(t, err)
	require.NotEmpty(t, found)
	v, err := e.c.VerifySigned(ctx, "", out.SignedInvoice)
	require.NoError(t, err)
	require.True(t, v.Valid)
	require.Equal(t, out.Irn, v.Irn)
	require.True(t, v.Registered)
	v, err = e.c.VerifySigned(ctx, "", out.SignedInvoice[:len(out.SignedInvoice)-4]+"AAAA")
	require.NoError(t, err)
	require.False(t, v.Valid)
}

func TestErrorFamilies(t *testing.T) {
	e := setup(t, nil)
	ctx := t.Context()
	now := e.sb.Clock.Now()
	first, err := e.c.GenerateIRN(ctx, seller, invoice(t, now, "DUP1", 1))
	require.NoError(t, err)

	t.Run("2150 duplicate IRN carries the original AckNo, AckDt and Irn (DUPIRN)", func(t *testing.T) {
		_, err := e.c.GenerateIRN(ctx, seller, invoice(t, now, "DUP1", 1))
		dup, ok := irpclient.DuplicateIRN(err)
		require.True(t, ok)
		require.Equal(t, first.Irn, dup.Irn)
		require.Equal(t, first.AckNo, dup.AckNo)
		require.Equal(t, first.AckDt, dup.AckDt)
		var ie *irpclient.Error
		require.ErrorAs(t, err, &ie)
		require.True(t, ie.Has("2150"))
		require.False(t, irpclient.IsTransport(err))
	})
	t.Run("1019 wrong password on auth", func(t *testing.T) {
		cr := e.creds(t, seller)
		cr.Password = "not-the-password"
		_, err := e.c.Authenticate(ctx, cr, false)
		require.Equal(t, []string{"1019"}, irpclient.Codes(err))
		require.NotContains(t, err.Error(), cr.Password)
	})
	t.Run("3030 invalid GSTIN", func(t *testing.T) {
		_, err := e.c.GetGSTIN(ctx, seller, "29AAAAA0000A1Z5")
		require.Equal(t, []string{"3030"}, irpclient.Codes(err))
	})
	t.Run("3001 GSTIN not in the master", func(t *testing.T) {
		_, err := e.c.SearchGSTIN(ctx, seller, "", "no such trader anywhere")
		require.Equal(t, []string{"3001"}, irpclient.Codes(err))
	})
	t.Run("2148 unknown IRN", func(t *testing.T) {
		_, err := e.c.GetIRN(ctx, seller, strings.Repeat("0", 64))
		require.Equal(t, []string{"2148"}, irpclient.Codes(err))
	})
	t.Run("312 cancel of an unknown e-way bill (e-way-bill system error form)", func(t *testing.T) {
		_, err := e.c.CancelEWB(ctx, seller, irpclient.CancelEWBRequest{EwbNo: 123456789012, CancelRsnCode: 1, CancelRmrk: "dup"})
		require.Equal(t, []string{"312"}, irpclient.Codes(err))
	})
	t.Run("2270 cancel after 24 hours", func(t *testing.T) {
		out, err := e.c.GenerateIRN(ctx, seller, invoice(t, now, "", 1))
		require.NoError(t, err)
		e.sb.Clock.Advance(25 * time.Hour)
		defer e.sb.Clock.Advance(-25 * time.Hour)
		_, err = e.c.CancelIRN(ctx, seller, irpclient.CancelIRNRequest{Irn: out.Irn, CnlRsn: "1", CnlRem: "dup"})
		require.Equal(t, []string{"2270"}, irpclient.Codes(err))
	})
	t.Run("9999 cancel of a cancelled IRN", func(t *testing.T) {
		out, err := e.c.GenerateIRN(ctx, seller, invoice(t, now, "", 1))
		require.NoError(t, err)
		req := irpclient.CancelIRNRequest{Irn: out.Irn, CnlRsn: "1", CnlRem: "dup"}
		_, err = e.c.CancelIRN(ctx, seller, req)
		require.NoError(t, err)
		_, err = e.c.CancelIRN(ctx, seller, req)
		var ie *irpclient.Error
		require.ErrorAs(t, err, &ie)
		require.True(t, ie.Has(irpclient.CodeInvoiceNotActive))
	})
}

// staticSource hands out one session and refreshes through LocalSessions,
// so that the IRP, not the cache, decides the token is stale.
type staticSource struct {
	s       *irpclient.Session
	inner   *irpclient.LocalSessions
	refresh atomic.Int32
}

func (x *staticSource) Session(context.Context, string, string) (*irpclient.Session, error) {
	return x.s, nil
}

func (x *staticSource) Refresh(ctx context.Context, stale *irpclient.Session) (*irpclient.Session, error) {
	x.refresh.Add(1)
	return x.inner.Refresh(ctx, stale)
}

func TestInvalidToken1005RefreshesOnceAndReplays(t *testing.T) {
	e := setup(t, nil, sandboxtest.WithTokenLifetime(time.Hour))
	ctx := t.Context()
	s, err := e.sessions.Session(ctx, seller, irpclient.NIC1)
	require.NoError(t, err)
	src := &staticSource{s: s, inner: e.sessions}
	c := e.c.WithSessions(src)
	e.sb.Clock.Advance(2 * time.Hour) // the token expires on the IRP
	out, err := c.GenerateIRN(ctx, seller, invoice(t, e.sb.Clock.Now(), "", 1))
	require.NoError(t, err)
	require.NotEmpty(t, out.Irn)
	require.Equal(t, int32(1), src.refresh.Load())
	require.Equal(t, int64(2), e.sb.Stats().TokensIssued)
	require.Equal(t, int64(2), e.sb.Stats().ByOperation[sandbox.OpGenerate], "one rejected call, one replay")
}

func TestRetriesOnInjectedTransportFaults(t *testing.T) {
	e := setup(t, func(c *irpclient.Config) { c.MaxRetries = 8 },
		sandboxtest.WithFaults(sandbox.Faults{ErrorRate: 0.6, ErrorMix: sandbox.ErrorMix{HTTP5xx: 1, Reset: 1}, Only: []string{sandbox.OpGSTIN, sandbox.OpAuth}}))
	ctx := t.Context()
	for range 5 {
		g, err := e.c.GetGSTIN(ctx, seller, buyer)
		require.NoError(t, err)
		require.Equal(t, buyer, g.Gstin)
	}
	require.Positive(t, e.sb.Stats().FaultsInjected, "the sandbox injected faults the client retried through")

	t.Run("an outage exhausts the retries of a read as a transport error with HTTP 503", func(t *testing.T) {
		e.sb.SetFaults(sandbox.Faults{Outages: []sandbox.Outage{{Instance: "NIC1", From: e.sb.Clock.Now().Add(-time.Minute)}}})
		defer e.sb.SetFaults(sandbox.Faults{})
		_, err := e.c.GetGSTIN(ctx, seller, buyer)
		var te *irpclient.TransportError
		require.ErrorAs(t, err, &te)
		require.Equal(t, 503, te.HTTPStatus)
		require.NotErrorIs(t, err, irpclient.ErrOutcomeUnknown)
	})
}

func TestOutcomeUnknownOnLostAnswer(t *testing.T) {
	for _, mix := range []struct {
		name string
		mix  sandbox.ErrorMix
	}{
		{"connection reset", sandbox.ErrorMix{Reset: 1}},
		{"HTTP 5xx", sandbox.ErrorMix{HTTP5xx: 1}},
		{"timeout", sandbox.ErrorMix{Timeout: 1}},
	} {
		t.Run(mix.name, func(t *testing.T) {
			e := setup(t, nil)
			ctx := t.Context()
			_, err := e.sessions.Session(ctx, seller, irpclient.NIC1)
			require.NoError(t, err)
			e.sb.SetFaults(sandbox.Faults{AnswerLostRate: 1, ErrorMix: mix.mix, TimeoutAfter: time.Minute, Only: []string{sandbox.OpGenerate}})
			doc := invoice(t, e.sb.Clock.Now(), "", 1)
			cctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
			_, err = e.c.GenerateIRN(cctx, seller, doc)
			cancel()
			require.ErrorIs(t, err, irpclient.ErrOutcomeUnknown)
			require.Equal(t, int64(1), e.sb.Stats().GenerateCalls, "never retried blindly")
			require.Len(t, e.sb.Registered(), 1, "the IRP did register it")

			// Reconcile: the same document again meets 2150 with the original IRN.
			e.sb.SetFaults(sandbox.Faults{})
			_, err = e.c.GenerateIRN(ctx, seller, doc)
			dup, ok := irpclient.DuplicateIRN(err)
			require.True(t, ok)
			require.Equal(t, e.sb.Registered()[0].Irn, dup.Irn)
		})
	}
}

func TestCrissCrossBetweenNIC1AndNIC2(t *testing.T) {
	e := setup(t, nil)
	ctx := t.Context()
	out, err := e.c.GenerateIRN(ctx, seller, invoice(t, e.sb.Clock.Now(), "", 1), irpclient.WithIRP(irpclient.NIC1))
	require.NoError(t, err)

	_, err = e.c.GetIRN(ctx, seller, out.Irn, irpclient.WithIRP(irpclient.NIC2))
	require.Equal(t, []string{"2148"}, irpclient.Codes(err), "NIC2 does not see NIC1's IRN without the irp header")

	got, err := e.c.GetIRN(ctx, seller, out.Irn, irpclient.WithIRP(irpclient.NIC2), irpclient.WithCrissCross(irpclient.NIC1))
	require.NoError(t, err)
	require.Equal(t, out.AckNo, got.AckNo)

	cnl, err := e.c.CancelIRN(ctx, seller, irpclient.CancelIRNRequest{Irn: out.Irn, CnlRsn: "1", CnlRem: "dup"},
		irpclient.WithIRP(irpclient.NIC2), irpclient.WithCrissCross(irpclient.NIC1))
	require.NoError(t, err)
	require.Equal(t, out.Irn, cnl.Irn)
	require.Equal(t, "CNL", e.sb.Registered()[0].Status)
}
