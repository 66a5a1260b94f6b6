package einvoice_test

import (
	"crypto/rsa"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	einvoicev1 "github.com/irpgate/irpgate/gen/go/irpgate/einvoice/v1"
	"github.com/irpgate/irpgate/internal/store"
	"github.com/irpgate/irpgate/internal/store/storetest"
	"github.com/irpgate/irpgate/pkg/irpclient"
	"github.com/irpgate/irpgate/services/einvoice"
	"github.com/irpgate/irpgate/services/sandbox"
	"github.com/irpgate/irpgate/services/sandbox/sandboxtest"
)

// deadURL is an http:// address on 127.0.0.1 where nothing listens: connections are
// refused before anything is sent.
func deadURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return "http://" + addr
}

// failoverEnv is einvoice with failover on, NIC1 at nic1 (unreachable when nil) and NIC2
// the sandbox.
func failoverEnv(t *testing.T, db *store.DB, nic1 func(sandboxURL string) string, opts ...sandboxtest.Option) (*env, einvoicev1.EInvoiceServiceClient, func() int64) {
	t.Helper()
	sb := sandboxtest.Start(t, opts...)
	nic1URL := deadURL(t)
	if nic1 != nil {
		nic1URL = nic1(sb.URL)
	}
	c, err := irpclient.New(irpclient.Config{
		BaseURLs:       map[string]string{irpclient.NIC1: nic1URL, irpclient.NIC2: sb.NIC2URL},
		DefaultIRP:     irpclient.NIC1,
		PublicKeys:     map[string]*rsa.PublicKey{irpclient.NIC1: sb.PublicKey(), irpclient.NIC2: sb.PublicKey()},
		RetryBaseDelay: time.Millisecond,
		RetryMaxDelay:  5 * time.Millisecond,
		Timeout:        20 * time.Second,
	})
	require.NoError(t, err)
	e := &env{sb: sb, irp: c.WithSessions(irpclient.NewLocalSessions(c, sb.Credentials(), irpclient.WithClock(sb.Clock.Now))), db: db}
	reader := sdkmetric.NewManualReader()
	_, client := e.service(t, func(c *einvoice.Config) {
		c.Failover = true
		c.MaxAttempts = 4
		c.MeterProvider = sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	})
	failovers := func() int64 { return metricValue(t, reader, "einvoice.irp_failovers") }
	return e, client, failovers
}

func storedIRP(t *testing.T, db *store.DB, irn string) string {
	t.Helper()
	var irp string
	require.NoError(t, db.QueryRowContext(t.Context(), `SELECT irp FROM einvoice_documents WHERE irn = $1`, irn).Scan(&irp))
	return irp
}

// With NIC1 unreachable, a document that names no IRP is registered on NIC2, stored as
// NIC2's; the next one starts on NIC2 without trying NIC1 first.
func TestFailoverToTheOtherNICIRP(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e, client, failovers := failoverEnv(t, db, nil)
		ctx := t.Context()
		for i, want := range []int64{1, 1} {
			res, err := client.GenerateIrn(ctx, &einvoicev1.GenerateIrnRequest{Invoice: docJSON(t, invoiceMap(e.sb.Clock.Now(), "", 1))})
			require.NoError(t, err, "document %d", i)
			require.Equal(t, irpclient.NIC2, res.GetDetails().GetIrp())
			require.Equal(t, irpclient.NIC2, storedIRP(t, db, res.GetDetails().GetIrn()))
			require.Equal(t, "ACTIVE", readRow(t, db, res.GetDetails().GetIrn()).State)
			require.Equal(t, want, failovers(), "document %d: only the first had to be moved", i)
		}
		require.Len(t, e.sb.Registered(), 2)
	})
}

// A request that names its IRP stays on it: NIC1 unreachable is an error, and the
// document, never sent, may be sent again.
func TestNoFailoverForAPinnedIRP(t *testing.T) {
	db := storetest.SQLite(t)
	e, client, failovers := failoverEnv(t, db, nil)
	_, err := client.GenerateIrn(t.Context(), &einvoicev1.GenerateIrnRequest{Invoice: docJSON(t, invoiceMap(e.sb.Clock.Now(), "", 1)), Irp: "NIC1"})
	require.Equal(t, codes.Unavailable, status.Code(err), "%v", err)
	require.Empty(t, e.sb.Registered())
	require.Zero(t, failovers())
	var state string
	require.NoError(t, db.QueryRowContext(t.Context(), `SELECT state FROM einvoice_documents`).Scan(&state))
	require.Equal(t, "FAILED", state)
}

// A document that failed without reaching the IRP is this request's again when it is sent
// once more (an ERP retrying during an outage): still unreachable, it is FAILED again with
// the IRP named unavailable, not left PENDING as an unknown outcome; named to no IRP, it
// fails over like a new one.
func TestAFailedDocumentSentAgainIsClaimedAgain(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e, client, failovers := failoverEnv(t, db, nil)
		inv := docJSON(t, invoiceMap(e.sb.Clock.Now(), "", 1))
		state := func() string {
			var s string
			require.NoError(t, db.QueryRowContext(t.Context(), `SELECT state FROM einvoice_documents`).Scan(&s))
			return s
		}
		for i := range 2 {
			_, err := client.GenerateIrn(t.Context(), &einvoicev1.GenerateIrnRequest{Invoice: inv, Irp: "NIC1"})
			require.Equal(t, codes.Unavailable, status.Code(err), "send %d: %v", i, err)
			info, _ := errorInfo(t, err)
			require.Equal(t, "ERROR_REASON_IRP_UNAVAILABLE", info.GetReason(), "send %d", i)
			require.Equal(t, "FAILED", state(), "send %d", i)
		}
		require.Zero(t, failovers())

		res, err := client.GenerateIrn(t.Context(), &einvoicev1.GenerateIrnRequest{Invoice: inv})
		require.NoError(t, err)
		require.Equal(t, irpclient.NIC2, res.GetDetails().GetIrp())
		require.Equal(t, int64(1), failovers())
		require.Equal(t, "ACTIVE", state())
		require.Len(t, e.sb.Registered(), 1)
	})
}

// A document sent to NIC2 whose answer was lost stays NIC2's when the same document comes
// again naming no IRP: it is sent to NIC2 again, and its row goes on naming NIC2, which the
// settling, cancellations and reads ask. (The row used to take the new request's default,
// NIC1, while the document went to NIC2.)
func TestAPendingDocumentKeepsItsIRP(t *testing.T) {
	db := storetest.SQLite(t)
	e := setup(t, db, sandboxtest.WithFaults(sandbox.Faults{
		AnswerLostRate: 1, ErrorMix: sandbox.ErrorMix{Reset: 1}, Only: []string{sandbox.OpGenerate}, Instances: []string{irpclient.NIC2},
	}))
	_, client := e.service(t, func(c *einvoice.Config) { c.MaxAttempts = 1 })
	inv := docJSON(t, invoiceMap(e.sb.Clock.Now(), "", 1))
	_, err := client.GenerateIrn(t.Context(), &einvoicev1.GenerateIrnRequest{Invoice: inv, Irp: irpclient.NIC2})
	require.Equal(t, codes.Unavailable, status.Code(err), "%v", err)
	regs := e.sb.Registered()
	require.Len(t, regs, 1)
	require.Equal(t, irpclient.NIC2, regs[0].Instance)

	// Sent again, to NIC2: its duplicate answer (2150) is not lost, and settles it.
	res, err := client.GenerateIrn(t.Context(), &einvoicev1.GenerateIrnRequest{Invoice: inv})
	require.NoError(t, err)
	require.Equal(t, regs[0].AckNo, res.GetDetails().GetAckNo())
	require.Equal(t, irpclient.NIC2, res.GetDetails().GetIrp())
	require.Equal(t, irpclient.NIC2, storedIRP(t, db, regs[0].Irn), "the row names where the document went")
	require.Len(t, e.sb.Registered(), 1)
}

// Reading a document left PENDING on NIC2 (its answer lost) asks NIC2, where it went, when
// the read names no IRP: NIC1, the default, has not got it yet (the IRPs replicate with a
// lag) and would say it has no such IRN.
func TestReadingAPendingDocumentAsksItsIRP(t *testing.T) {
	for _, read := range []string{"by IRN", "by document"} {
		t.Run(read, func(t *testing.T) {
			db := storetest.SQLite(t)
			e := setup(t, db, sandboxtest.WithReplicationLag(time.Hour), sandboxtest.WithFaults(sandbox.Faults{
				AnswerLostRate: 1, ErrorMix: sandbox.ErrorMix{Reset: 1}, Only: []string{sandbox.OpGenerate},
			}))
			_, client := e.service(t, func(c *einvoice.Config) { c.MaxAttempts = 1 })
			inv := invoiceMap(e.sb.Clock.Now(), "", 1)
			_, err := client.GenerateIrn(t.Context(), &einvoicev1.GenerateIrnRequest{Invoice: docJSON(t, inv), Irp: irpclient.NIC2})
			require.Equal(t, codes.Unavailable, status.Code(err), "%v", err)
			regs := e.sb.Registered()
			require.Len(t, regs, 1)

			var got *einvoicev1.IrnDetails
			if read == "by IRN" {
				res, err := client.GetIrn(t.Context(), &einvoicev1.GetIrnRequest{Irn: regs[0].Irn})
				require.NoError(t, err)
				got = res.GetDetails()
			} else {
				dd := inv["DocDtls"].(map[string]any)
				res, err := client.GetIrnByDocument(t.Context(), &einvoicev1.GetIrnByDocumentRequest{
					Gstin: seller, DocType: "INV", DocNo: dd["No"].(string), DocDate: dd["Dt"].(string),
				})
				require.NoError(t, err)
				got = res.GetDetails()
			}
			require.Equal(t, regs[0].AckNo, got.GetAckNo())
			require.Equal(t, irpclient.NIC2, got.GetIrp())
			require.Equal(t, "ACTIVE", readRow(t, db, regs[0].Irn).State)
			require.Equal(t, irpclient.NIC2, storedIRP(t, db, regs[0].Irn))
		})
	}
}

// A document that may have reached NIC1 (its answer was lost) stays on NIC1 when NIC1 then
// stops answering: the IRPs replicate with a lag, and NIC2 could register it a second
// time. Its outcome is left to the settling, as without failover.
func TestNoFailoverOnceTheDocumentMayHaveArrived(t *testing.T) {
	db := storetest.SQLite(t)
	e, client, failovers := failoverEnv(t, db, func(sandboxURL string) string { return nic1DownAfterGenerate(t, sandboxURL) })
	_, err := client.GenerateIrn(t.Context(), &einvoicev1.GenerateIrnRequest{Invoice: docJSON(t, invoiceMap(e.sb.Clock.Now(), "", 1))})
	require.Equal(t, codes.Unavailable, status.Code(err), "%v", err)
	info, _ := errorInfo(t, err)
	require.Equal(t, "ERROR_REASON_OUTCOME_UNKNOWN", info.GetReason())
	regs := e.sb.Registered()
	require.Len(t, regs, 1, "NIC1 registered it; its answer was lost")
	require.Zero(t, failovers())
	require.Equal(t, irpclient.NIC1, storedIRP(t, db, regs[0].Irn))
	require.Equal(t, "PENDING", readRow(t, db, regs[0].Irn).State)
}

// A document left PENDING on NIC1 (its answer lost) while NIC1 then stops answering is
// settled from NIC2, criss-cross, once the IRPs have replicated it, and stored as NIC1's
// registration. Before they have, NIC2's "no such IRN" leaves it PENDING, not FAILED.
func TestSettlingAsksTheOtherNICIRPWhenItsOwnIsDown(t *testing.T) {
	for _, lag := range []time.Duration{0, time.Hour} {
		t.Run(fmt.Sprintf("replicated after %v", lag), func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, db *store.DB) {
				e, client, _ := failoverEnv(t, db, func(sandboxURL string) string { return nic1DownAfterGenerate(t, sandboxURL) },
					sandboxtest.WithReplicationLag(lag))
				_, err := client.GenerateIrn(t.Context(), &einvoicev1.GenerateIrnRequest{Invoice: docJSON(t, invoiceMap(e.sb.Clock.Now(), "", 1))})
				info, _ := errorInfo(t, err)
				require.Equal(t, "ERROR_REASON_OUTCOME_UNKNOWN", info.GetReason(), "%v", err)
				regs := e.sb.Registered()
				require.Len(t, regs, 1)

				// The next process, NIC1 still down, finds the document and settles it.
				e.sb.Clock.Advance(3 * time.Minute)
				next, _ := e.service(t, func(c *einvoice.Config) { c.Failover = true })
				n, err := next.FindStalePending(t.Context())
				require.NoError(t, err)
				require.Equal(t, 1, n)
				n, _ = next.SettlePending(t.Context())
				row := readRow(t, db, regs[0].Irn)
				if lag > 0 {
					require.Zero(t, n)
					require.Equal(t, "PENDING", row.State, "NIC2 has not got it yet: that proves nothing")
					return
				}
				require.Equal(t, 1, n)
				require.Equal(t, "ACTIVE", row.State)
				require.Equal(t, regs[0].AckNo, row.AckNo)
				require.NotEmpty(t, row.SignedInvoice)
				require.Equal(t, irpclient.NIC1, storedIRP(t, db, regs[0].Irn), "registered on NIC1, read through NIC2")
			})
		})
	}
}

// A cancellation of a NIC1 IRN whose answer was lost is settled from NIC2, criss-cross,
// while NIC1 is down: NIC2 shows it cancelled, and the row becomes CANCELLED.
func TestSettlingACancellationAsksTheOtherNICIRPWhenItsOwnIsDown(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		withProxy, nic1 := nic1BehindProxy(t)
		e, client, _ := failoverEnv(t, db, withProxy)
		irn := registerOn(t, e, client, irpclient.NIC1)
		svc, once := e.service(t, func(c *einvoice.Config) { c.Failover, c.MaxAttempts = true, 1 })
		e.sb.SetFaults(sandbox.Faults{AnswerLostRate: 1, ErrorMix: sandbox.ErrorMix{Reset: 1}, Only: []string{sandbox.OpCancel}})
		_, err := once.CancelIrn(t.Context(), &einvoicev1.CancelIrnRequest{Irn: irn, CnlRsn: "2", CnlRem: "Wrong entry"})
		info, _ := errorInfo(t, err)
		require.Equal(t, "ERROR_REASON_OUTCOME_UNKNOWN", info.GetReason(), "%v", err)
		require.Equal(t, "ACTIVE", readRow(t, db, irn).State)
		e.sb.SetFaults(sandbox.Faults{})

		nic1.Start()
		n, err := svc.SettlePending(t.Context())
		require.NoError(t, err)
		require.Equal(t, 1, n)
		require.Equal(t, "CANCELLED", readRow(t, db, irn).State)
		require.Equal(t, irpclient.NIC1, storedIRP(t, db, irn))
	})
}

// nic1DownAfterGenerate fronts the sandbox as NIC1: calls pass through until the first
// generate, which reaches the sandbox (it registers the document) but whose answer is
// dropped; from then on nothing listens, so every later call is refused.
func nic1DownAfterGenerate(t *testing.T, sandboxURL string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	target, err := url.Parse(sandboxURL)
	require.NoError(t, err)
	proxy := httputil.NewSingleHostReverseProxy(target)
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second}
	srv.SetKeepAlivesEnabled(false) // a new connection per call: refused once l is closed
	srv.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/eicore/v1.03/Invoice" {
			proxy.ServeHTTP(w, r)
			return
		}
		proxy.ServeHTTP(httptest.NewRecorder(), r)
		_ = l.Close()
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			_ = conn.Close()
		}
	})
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + l.Addr().String()
}

// A cancellation whose IRN's IRP (NIC1) has gone down goes to NIC2 criss-cross, naming
// NIC1 in the irp header, and is stored as any other.
func TestCancelFailsOverCrissCross(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		withProxy, nic1 := nic1BehindProxy(t)
		e, client, failovers := failoverEnv(t, db, withProxy)
		ctx := t.Context()
		irn := registerOn(t, e, client, irpclient.NIC1)

		nic1.Start()
		cnl, err := client.CancelIrn(ctx, &einvoicev1.CancelIrnRequest{Irn: irn, CnlRsn: "2", CnlRem: "wrong rate"})
		require.NoError(t, err)
		require.False(t, cnl.GetAlreadyCancelled())
		require.Equal(t, "CANCELLED", readRow(t, db, irn).State)
		require.Equal(t, int64(1), failovers())
		require.Equal(t, int64(1), e.sb.Stats().CancelCalls, "one cancellation reached the IRP: NIC2's")
		require.Equal(t, irpclient.NIC1, storedIRP(t, db, irn), "the IRN stays NIC1's")
	})
}

// The IRPs' heartbeats steer new documents: while NIC1's does not answer, a document that
// names no IRP starts on NIC2 without a failed attempt first; once it answers again, new
// documents go to NIC1. einvoice_irp_up shows which is up.
func TestHeartbeatsSteerNewDocuments(t *testing.T) {
	db := storetest.SQLite(t)
	withProxy, nic1 := nic1BehindProxy(t)
	reader := sdkmetric.NewManualReader()
	e, _, _ := failoverEnv(t, db, withProxy)
	svc, client := e.service(t, func(c *einvoice.Config) {
		c.Failover = true
		c.MeterProvider = sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	})
	ctx := t.Context()
	nic1.Start()
	svc.ProbeIRPs(ctx)
	require.Equal(t, map[string]int64{"NIC1": 0, "NIC2": 1}, metricByAttr(t, reader, "einvoice.irp_up", "irp"))
	registerOn(t, e, client, irpclient.NIC2)
	require.Zero(t, metricValue(t, reader, "einvoice.irp_failovers"), "started on NIC2: nothing to move")

	nic1.End()
	svc.ProbeIRPs(ctx)
	require.Equal(t, map[string]int64{"NIC1": 1, "NIC2": 1}, metricByAttr(t, reader, "einvoice.irp_up", "irp"))
	registerOn(t, e, client, irpclient.NIC1)
}

// Reading an IRN whose IRP (NIC1) has gone down asks NIC2 criss-cross: a refresh still
// finds a cancellation made at the IRP.
func TestRefreshReadsCrissCross(t *testing.T) {
	db := storetest.SQLite(t)
	withProxy, nic1 := nic1BehindProxy(t)
	e, client, _ := failoverEnv(t, db, withProxy)
	ctx := t.Context()
	irn := registerOn(t, e, client, irpclient.NIC1)
	_, err := e.irp.CancelIRN(ctx, seller, irpclient.CancelIRNRequest{Irn: irn, CnlRsn: "1", CnlRem: "on the portal"}, irpclient.WithIRP(irpclient.NIC1))
	require.NoError(t, err)

	nic1.Start()
	got, err := client.GetIrn(ctx, &einvoicev1.GetIrnRequest{Irn: irn, Refresh: true})
	require.NoError(t, err)
	require.True(t, got.GetRefreshed())
	require.Equal(t, "CNL", got.GetDetails().GetStatus())
}

// nic1BehindProxy is a failoverEnv nic1 that can go down: the sandbox through a TCP proxy,
// whose Outage is filled in when the environment starts.
func nic1BehindProxy(t *testing.T) (func(sandboxURL string) string, *storetest.Outage) {
	o := &storetest.Outage{}
	return func(sandboxURL string) string {
		u, out := storetest.ThroughProxy(t, sandboxURL)
		*o = out
		return u
	}, o
}

// registerOn registers a new document that names no IRP and checks that irp registered it;
// it returns the IRN.
func registerOn(t *testing.T, e *env, client einvoicev1.EInvoiceServiceClient, irp string) string {
	t.Helper()
	res, err := client.GenerateIrn(t.Context(), &einvoicev1.GenerateIrnRequest{Invoice: docJSON(t, invoiceMap(e.sb.Clock.Now(), "", 1))})
	require.NoError(t, err)
	require.Equal(t, irp, res.GetDetails().GetIrp())
	return res.GetDetails().GetIrn()
}
