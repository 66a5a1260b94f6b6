package einvoice_test

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
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

// requireSettled runs SettlePending, which must settle exactly one document, and checks that
// the IRP's registration reg is then stored ACTIVE with its signed answer.
func requireSettled(t *testing.T, svc *einvoice.Service, db *store.DB, reg sandbox.Registration) {
	t.Helper()
	n, err := svc.SettlePending(t.Context())
	require.NoError(t, err)
	require.Equal(t, 1, n)
	row := readRow(t, db, reg.Irn)
	require.Equal(t, "ACTIVE", row.State)
	require.Equal(t, reg.AckNo, row.AckNo)
	require.NotEmpty(t, row.SignedInvoice)
}

// A caller told OUTCOME_UNKNOWN gets the IRN the document would have, and may ask for it
// instead of sending the document again: GetIrn, without a GSTIN, reads it from the IRP for
// the pending document's seller, verifies it and stores it as the document's registration.
func TestGetIrnAfterAnUnknownOutcomeFinishesTheRegistration(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e, _, reg, err := pendingAtTheIRP(t, db)
		info, _ := errorInfo(t, err)
		require.Equal(t, "ERROR_REASON_OUTCOME_UNKNOWN", info.GetReason())
		irn := info.GetMetadata()["irn"]
		require.Equal(t, reg.Irn, irn, "the error names the IRN")

		got, err := e.client.GetIrn(t.Context(), &einvoicev1.GetIrnRequest{Irn: irn})
		require.NoError(t, err)
		require.Equal(t, reg.AckNo, got.GetDetails().GetAckNo())
		requireVerified(t, e.sb, got.GetDetails())
		row := readRow(t, db, irn)
		require.Equal(t, "ACTIVE", row.State)
		require.Equal(t, got.GetDetails().GetSignedInvoice(), row.SignedInvoice)
		require.Len(t, e.sb.Registered(), 1, "nothing was sent again")
	})
}

// A document whose every answer was lost is left PENDING with its outcome unknown; the
// background settling finds the IRP's registration and stores it, without sending again.
func TestSettlePendingStoresWhatTheIRPRegistered(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e, svc, reg, _ := pendingAtTheIRP(t, db)
		requireSettled(t, svc, db, reg)
		require.Len(t, e.sb.Registered(), 1, "nothing was sent again")

		n, err := svc.SettlePending(t.Context())
		require.NoError(t, err)
		require.Zero(t, n, "settled once")
	})
}

// A document the IRP never registered (it failed before processing) is marked FAILED by
// the settling, so it may be sent again; a send then registers it.
func TestSettlePendingFailsWhatTheIRPNeverRegistered(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := setup(t, db, sandboxtest.WithFaults(sandbox.Faults{ErrorRate: 1, ErrorMix: sandbox.ErrorMix{HTTP5xx: 1}, Only: []string{sandbox.OpGenerate}}))
		svc, client := e.service(t, func(c *einvoice.Config) { c.MaxAttempts = 1 })
		ctx := t.Context()
		body := docJSON(t, invoiceMap(e.sb.Clock.Now(), "", 1))

		_, err := client.GenerateIrn(ctx, &einvoicev1.GenerateIrnRequest{Invoice: body})
		require.Equal(t, codes.Unavailable, status.Code(err), "%v", err)
		require.Empty(t, e.sb.Registered())

		e.sb.SetFaults(sandbox.Faults{})
		n, err := svc.SettlePending(ctx)
		require.NoError(t, err)
		require.Equal(t, 1, n)
		var state, lastError string
		require.NoError(t, db.QueryRowContext(ctx, `SELECT state, last_error FROM einvoice_documents`).Scan(&state, &lastError))
		require.Equal(t, "FAILED", state)
		require.Contains(t, lastError, "not registered at the IRP")

		res, err := client.GenerateIrn(ctx, &einvoicev1.GenerateIrnRequest{Invoice: body})
		require.NoError(t, err)
		require.Len(t, e.sb.Registered(), 1)
		require.Equal(t, e.sb.Registered()[0].Irn, res.GetDetails().GetIrn())
	})
}

// pendingAtTheIRP registers one document whose every answer is lost, through a service svc
// that tries once, so the IRP has it and its row is left PENDING; then it lets the IRP
// answer again. It returns the IRP's registration and GenerateIrn's error.
func pendingAtTheIRP(t *testing.T, db *store.DB) (e *env, svc *einvoice.Service, reg sandbox.Registration, genErr error) {
	t.Helper()
	e = setup(t, db, sandboxtest.WithFaults(sandbox.Faults{AnswerLostRate: 1, ErrorMix: sandbox.ErrorMix{Reset: 1}, Only: []string{sandbox.OpGenerate}}))
	svc, client := e.service(t, func(c *einvoice.Config) { c.MaxAttempts = 1 })
	_, genErr = client.GenerateIrn(t.Context(), &einvoicev1.GenerateIrnRequest{Invoice: docJSON(t, invoiceMap(e.sb.Clock.Now(), "", 1))})
	require.Equal(t, codes.Unavailable, status.Code(genErr), "%v", genErr)
	regs := e.sb.Registered()
	require.Len(t, regs, 1, "the IRP registered it; its answer was lost")
	require.Equal(t, "PENDING", readRow(t, db, regs[0].Irn).State)
	e.sb.SetFaults(sandbox.Faults{})
	return e, svc, regs[0], genErr
}

// runUntilTheEnd runs svc.Run until the test ends.
func runUntilTheEnd(t *testing.T, svc *einvoice.Service) {
	ctx, stop := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	t.Cleanup(func() { stop(); require.NoError(t, <-done) })
}

// A document a stopped process left pending is found when Run starts (once it has been left
// alone for a while) and settled with the IRP like the others.
func TestRunSettlesWhatAnEarlierProcessLeftPending(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e, _, reg, _ := pendingAtTheIRP(t, db)
		// A new process over the same database, a few minutes later.
		e.sb.Clock.Advance(3 * time.Minute)
		next, _ := e.service(t, func(c *einvoice.Config) { c.SettleInterval = 10 * time.Millisecond })
		runUntilTheEnd(t, next)
		require.Eventually(t, func() bool { return readRow(t, db, reg.Irn).State == "ACTIVE" }, 10*time.Second, 10*time.Millisecond)
		require.Equal(t, reg.AckNo, readRow(t, db, reg.Irn).AckNo)
		require.Len(t, e.sb.Registered(), 1, "nothing was sent again")
	})
}

// A document left pending by a process killed just before the next one started (a crash
// and a restart within seconds) is too fresh for the start-up scan; Run looks again once it
// has been left alone long enough, and settles it.
func TestRunSettlesWhatAProcessKilledJustBeforeLeftPending(t *testing.T) {
	e, _, reg, _ := pendingAtTheIRP(t, storetest.SQLite(t))
	next, _ := e.service(t, func(c *einvoice.Config) { c.SettleInterval = 10 * time.Millisecond })
	pings := e.sb.Stats().ByOperation[sandbox.OpPing]
	runUntilTheEnd(t, next)
	// Run asks the IRPs' heartbeats right after its start-up scan.
	require.Eventually(t, func() bool { return e.sb.Stats().ByOperation[sandbox.OpPing] > pings }, 10*time.Second, time.Millisecond)
	n, err := next.SettlePending(t.Context())
	require.NoError(t, err)
	require.Zero(t, n, "the start-up scan passed over the fresh row")
	require.Equal(t, "PENDING", readRow(t, e.db, reg.Irn).State)

	e.sb.Clock.Advance(3 * time.Minute)
	require.Eventually(t, func() bool { return readRow(t, e.db, reg.Irn).State == "ACTIVE" }, 10*time.Second, 10*time.Millisecond)
	require.Len(t, e.sb.Registered(), 1, "nothing was sent again")
}

// Run asks the IRPs' heartbeats when it starts and every ProbeInterval, and never when the
// interval is negative (irpgate's --irp-heartbeat=0, for a GSP that bills each call). Its
// first settling round comes after the start-up heartbeat, so a settled document shows
// that the heartbeat's turn has passed.
func TestRunAsksTheHeartbeatsOnlyWhenConfigured(t *testing.T) {
	for _, tc := range []struct {
		name     string
		interval time.Duration
		asks     bool
	}{
		{"every 10 ms", 10 * time.Millisecond, true},
		{"never", -1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := storetest.SQLite(t)
			e, _, reg, _ := pendingAtTheIRP(t, db)
			e.sb.Clock.Advance(3 * time.Minute)
			next, _ := e.service(t, func(c *einvoice.Config) {
				c.SettleInterval = 10 * time.Millisecond
				c.ProbeInterval = tc.interval
			})
			pings := func() int64 { return e.sb.Stats().ByOperation[sandbox.OpPing] }
			before := pings()
			runUntilTheEnd(t, next)
			require.Eventually(t, func() bool { return readRow(t, db, reg.Irn).State == "ACTIVE" }, 10*time.Second, 10*time.Millisecond)
			if !tc.asks {
				require.Equal(t, before, pings(), "no heartbeat asked")
				return
			}
			// Two IRPs (NIC1, NIC2) at the start, and again every interval.
			require.Eventually(t, func() bool { return pings() >= before+4 }, 10*time.Second, time.Millisecond)
		})
	}
}

// A look for documents left pending that fails (the database was unreachable as the
// process started) is made again at the next settle round, not only staleAfter later.
func TestRunLooksAgainWhenTheStartUpLookFails(t *testing.T) {
	db := storetest.SQLite(t)
	e, _, reg, _ := pendingAtTheIRP(t, db)
	e.sb.Clock.Advance(3 * time.Minute) // stale now; the clock stays here, so no later look is due
	next, _ := e.service(t, func(c *einvoice.Config) { c.SettleInterval = 10 * time.Millisecond })
	renameTable := func(from, to string) {
		_, err := db.ExecContext(t.Context(), "ALTER TABLE "+from+" RENAME TO "+to)
		require.NoError(t, err)
	}
	renameTable("einvoice_documents", "einvoice_documents_away")
	pings := e.sb.Stats().ByOperation[sandbox.OpPing]
	runUntilTheEnd(t, next)
	// Run asks the IRPs' heartbeats right after its start-up look, which found no table.
	require.Eventually(t, func() bool { return e.sb.Stats().ByOperation[sandbox.OpPing] > pings }, 10*time.Second, time.Millisecond)
	renameTable("einvoice_documents_away", "einvoice_documents")

	require.Eventually(t, func() bool { return readRow(t, db, reg.Irn).State == "ACTIVE" }, 10*time.Second, 10*time.Millisecond)
	require.Len(t, e.sb.Registered(), 1, "nothing was sent again")
}

// runningWithALostAnswer runs Run of a service (MaxAttempts 1, no periodic settling round,
// then edit) that has sent one document whose answer was lost; stop ends Run and waits.
func runningWithALostAnswer(t *testing.T, db *store.DB, edit func(*einvoice.Config)) (e *env, svc *einvoice.Service, reg sandbox.Registration, stop func()) {
	t.Helper()
	e = setup(t, db, sandboxtest.WithFaults(sandbox.Faults{AnswerLostRate: 1, ErrorMix: sandbox.ErrorMix{Reset: 1}, Only: []string{sandbox.OpGenerate}}))
	svc, client := e.service(t, func(c *einvoice.Config) {
		c.MaxAttempts = 1
		c.SettleInterval = time.Hour // only the round at the stop
		if edit != nil {
			edit(c)
		}
	})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()

	_, err := client.GenerateIrn(t.Context(), &einvoicev1.GenerateIrnRequest{Invoice: docJSON(t, invoiceMap(e.sb.Clock.Now(), "", 1))})
	require.Equal(t, codes.Unavailable, status.Code(err), "%v", err)
	regs := e.sb.Registered()
	require.Len(t, regs, 1, "the IRP registered it; its answer was lost")
	require.Equal(t, "PENDING", readRow(t, db, regs[0].Irn).State)
	return e, svc, regs[0], func() { cancel(); require.NoError(t, <-done) }
}

// A process that stops (a rollout, a scale-down) settles what it remembers before Run
// returns, instead of leaving it PENDING until another process starts.
func TestRunSettlesWhenItStops(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e, svc, reg, stop := runningWithALostAnswer(t, db, nil)
		e.sb.SetFaults(sandbox.Faults{})
		stop()
		row := readRow(t, db, reg.Irn)
		require.Equal(t, "ACTIVE", row.State, "settled as Run stopped")
		require.Equal(t, reg.AckNo, row.AckNo)
		require.Len(t, e.sb.Registered(), 1, "nothing was sent again")
		n, err := svc.SettlePending(t.Context())
		require.NoError(t, err)
		require.Zero(t, n, "nothing left to settle")
	})
}

// A document left PENDING for longer than the IRP answers for its registrations (two days:
// irpgate stopped over a long weekend) cannot be settled by asking. It is asked about no
// more and stays PENDING (not FAILED: the IRP has it), and sending it again settles it from
// the IRP's duplicate answer, acknowledgement kept.
func TestSettlingPastTheIRPsRetentionLeavesItToTheNextSend(t *testing.T) {
	db := storetest.SQLite(t)
	e, _, reg, _ := pendingAtTheIRP(t, db)
	sent := e.sb.Clock.Now() // the manual clock has not moved since the send
	e.sb.Clock.Advance(49 * time.Hour)
	next, client := e.service(t, nil)
	ctx := t.Context()

	n, err := next.FindStalePending(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	n, err = next.SettlePending(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n, "asked about no more")
	require.Equal(t, "PENDING", readRow(t, db, reg.Irn).State)
	n, err = next.SettlePending(ctx)
	require.NoError(t, err)
	require.Zero(t, n)

	calls := e.sb.Stats().GenerateCalls
	_, err = client.GenerateIrn(ctx, &einvoicev1.GenerateIrnRequest{Invoice: docJSON(t, invoiceMap(sent, reg.DocNo, 1))})
	require.Equal(t, codes.FailedPrecondition, status.Code(err), "%v", err)
	info, _ := errorInfo(t, err)
	require.Equal(t, "ERROR_REASON_SIGNED_DATA_UNAVAILABLE", info.GetReason())
	require.Equal(t, calls+1, e.sb.Stats().GenerateCalls, "sent again, answered 2150")
	row := readRow(t, db, reg.Irn)
	require.Equal(t, "ACTIVE", row.State)
	require.Equal(t, reg.AckNo, row.AckNo)
	require.Len(t, e.sb.Registered(), 1)
}

// A document left PENDING for longer than any reading of the IRP's retention (three days)
// cannot be settled by asking: the start-up look leaves it rather than ask the IRP about it
// at every start, and ListUnregisteredDocuments shows it, to send again.
func TestTheStartUpLookLeavesWhatIsPastTheIRPsRetention(t *testing.T) {
	db := storetest.SQLite(t)
	e, _, reg, _ := pendingAtTheIRP(t, db)
	e.sb.Clock.Advance(71 * time.Hour)
	next, client := e.service(t, nil)
	n, err := next.FindStalePending(t.Context())
	require.NoError(t, err)
	require.Equal(t, 1, n, "within three days: asked about")

	e.sb.Clock.Advance(2 * time.Hour)
	later, _ := e.service(t, nil)
	n, err = later.FindStalePending(t.Context())
	require.NoError(t, err)
	require.Zero(t, n, "past three days: not asked about")
	list, err := client.ListUnregisteredDocuments(t.Context(), &einvoicev1.ListUnregisteredDocumentsRequest{Gstin: seller, State: "PENDING"})
	require.NoError(t, err)
	require.Len(t, list.GetDocuments(), 1)
	require.Equal(t, reg.Irn, list.GetDocuments()[0].GetIrn())
}

// A process that stops while the IRP still cannot be asked leaves the document PENDING, for
// the next process's start-up look, and says in its log how many it left.
func TestRunThatCannotSettleAsItStopsSaysSo(t *testing.T) {
	db := storetest.SQLite(t)
	var logs bytes.Buffer
	e, _, reg, stop := runningWithALostAnswer(t, db, func(c *einvoice.Config) {
		c.Logger = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	})
	e.sb.SetFaults(sandbox.Faults{ErrorRate: 1, ErrorMix: sandbox.ErrorMix{HTTP5xx: 1}, Only: []string{sandbox.OpGetByIRN}})
	stop()

	require.Equal(t, "PENDING", readRow(t, db, reg.Irn).State, "neither registered nor failed: the IRP could not be asked")
	type warning struct {
		Msg           string
		Settled, Left int
		Error         string
	}
	var left []warning
	for line := range bytes.Lines(logs.Bytes()) {
		var w warning
		require.NoError(t, json.Unmarshal(line, &w), "%s", line)
		if strings.Contains(w.Msg, "left PENDING") {
			left = append(left, w)
		}
	}
	require.Len(t, left, 1, "one warning at the stop: %s", logs.String())
	require.Equal(t, 0, left[0].Settled)
	require.Equal(t, 1, left[0].Left)
	require.Contains(t, left[0].Error, reg.DocNo, "the document it could not settle")
}

// A cancellation sent without an answer is settled by asking the IRP. When the IRP made it
// (every answer lost), the row, left ACTIVE, becomes CANCELLED; when it never did (the
// connection dropped before it processed the request), the row stays ACTIVE and a later
// cancel goes through.
func TestSettlePendingCancellation(t *testing.T) {
	for _, tc := range []struct {
		name   string
		faults sandbox.Faults
		atIRP  string // the IRN's status at the IRP after the unanswered cancel
		after  string // the row's state once settled
	}{
		{"made by the IRP, answer lost", sandbox.Faults{AnswerLostRate: 1, ErrorMix: sandbox.ErrorMix{Reset: 1}, Only: []string{sandbox.OpCancel}}, "CNL", "CANCELLED"},
		{"never made", sandbox.Faults{ErrorRate: 1, ErrorMix: sandbox.ErrorMix{Reset: 1}, Only: []string{sandbox.OpCancel}}, "ACT", "ACTIVE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, db *store.DB) {
				e := setup(t, db, sandboxtest.WithFaults(tc.faults))
				svc, client := e.service(t, func(c *einvoice.Config) { c.MaxAttempts = 1 })
				ctx := t.Context()
				res, err := client.GenerateIrn(ctx, &einvoicev1.GenerateIrnRequest{Invoice: docJSON(t, invoiceMap(e.sb.Clock.Now(), "", 1))})
				require.NoError(t, err)
				irn := res.GetDetails().GetIrn()
				cancel := &einvoicev1.CancelIrnRequest{Irn: irn, CnlRsn: "2", CnlRem: "Wrong entry"}

				_, err = client.CancelIrn(ctx, cancel)
				require.Equal(t, codes.Unavailable, status.Code(err), "%v", err)
				info, _ := errorInfo(t, err)
				require.Equal(t, "ERROR_REASON_OUTCOME_UNKNOWN", info.GetReason(), "sent, so the outcome is not known")
				require.Equal(t, "ACTIVE", readRow(t, db, irn).State)
				atIRP, err := e.irp.GetIRN(ctx, seller, irn)
				require.NoError(t, err)
				require.Equal(t, tc.atIRP, atIRP.Status)

				e.sb.SetFaults(sandbox.Faults{})
				n, err := svc.SettlePending(ctx)
				require.NoError(t, err)
				require.Equal(t, 1, n)
				require.Equal(t, tc.after, readRow(t, db, irn).State)
				n, err = svc.SettlePending(ctx)
				require.NoError(t, err)
				require.Zero(t, n, "settled once")

				if tc.after == "CANCELLED" {
					got, err := client.GetIrn(ctx, &einvoicev1.GetIrnRequest{Irn: irn})
					require.NoError(t, err)
					require.Equal(t, "CNL", got.GetDetails().GetStatus())
					require.NotEmpty(t, got.GetDetails().GetCancelDate())
					return
				}
				done, err := client.CancelIrn(ctx, cancel)
				require.NoError(t, err)
				require.False(t, done.GetAlreadyCancelled())
				require.Equal(t, "CANCELLED", readRow(t, db, irn).State)
			})
		})
	}
}

// A document this call claimed and never got to the IRP (no IRP session, or the IRP
// unreachable throughout) is marked FAILED, free to send again, instead of waiting to be
// settled; the next request sends it.
func TestUnsentDocumentIsFreeToSendAgain(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := setup(t, db)
		closed, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		unreachable := "http://" + closed.Addr().String()
		require.NoError(t, closed.Close())

		reasons := map[string]string{"no IRP session": "ERROR_REASON_IRP_AUTH_FAILED", "IRP unreachable": "ERROR_REASON_IRP_UNAVAILABLE"}
		for name, irp := range map[string]func(t *testing.T) *irpclient.Client{
			"no IRP session": func(*testing.T) *irpclient.Client {
				return e.irp.WithSessions(irpclient.NewLocalSessions(e.irp, func(string, string) (irpclient.Credentials, error) {
					return irpclient.Credentials{}, errors.New("no credentials for this GSTIN")
				}))
			},
			"IRP unreachable": func(t *testing.T) *irpclient.Client {
				c, err := irpclient.New(irpclient.Config{
					BaseURLs: map[string]string{irpclient.NIC1: unreachable}, PublicKeys: map[string]*rsa.PublicKey{irpclient.NIC1: e.sb.PublicKey()},
					RetryBaseDelay: time.Millisecond, RetryMaxDelay: time.Millisecond,
				})
				require.NoError(t, err)
				return c.WithSessions(irpclient.NewLocalSessions(c, e.sb.Credentials()))
			},
		} {
			t.Run(name, func(t *testing.T) {
				_, client := e.service(t, func(c *einvoice.Config) { c.IRP, c.MaxAttempts = irp(t), 3 })
				ctx := t.Context()
				body := docJSON(t, invoiceMap(e.sb.Clock.Now(), "", 1))
				calls := e.sb.Stats().GenerateCalls

				_, err := client.GenerateIrn(ctx, &einvoicev1.GenerateIrnRequest{Invoice: body})
				require.Equal(t, codes.Unavailable, status.Code(err), "%v", err)
				info, _ := errorInfo(t, err)
				require.Equal(t, reasons[name], info.GetReason(), "%v", err)
				var state, lastError string
				require.NoError(t, db.QueryRowContext(ctx, `SELECT state, last_error FROM einvoice_documents
					WHERE doc_no = $1`, docNo(t, body)).Scan(&state, &lastError))
				require.Equal(t, "FAILED", state)
				require.True(t, strings.HasPrefix(lastError, "not sent: "), lastError)
				require.Equal(t, calls, e.sb.Stats().GenerateCalls, "nothing reached the IRP")

				res, err := e.client.GenerateIrn(ctx, &einvoicev1.GenerateIrnRequest{Invoice: body})
				require.NoError(t, err)
				require.False(t, res.GetReplayed())
				require.Equal(t, calls+1, e.sb.Stats().GenerateCalls)
			})
		}
	})
}

func docNo(t *testing.T, body []byte) string {
	var d struct{ DocDtls struct{ No string } }
	require.NoError(t, json.Unmarshal(body, &d))
	return d.DocDtls.No
}

// The number of documents whose outcome is unknown is a gauge an operator can alert on; it
// falls back to zero as the settling stores them, which a counter records.
func TestUnsettledDocumentsAreMeasured(t *testing.T) {
	db := storetest.SQLite(t)
	e := setup(t, db, sandboxtest.WithFaults(sandbox.Faults{AnswerLostRate: 1, ErrorMix: sandbox.ErrorMix{Reset: 1}, Only: []string{sandbox.OpGenerate}}))
	reader := sdkmetric.NewManualReader()
	svc, client := e.service(t, func(c *einvoice.Config) {
		c.MaxAttempts = 1
		c.MeterProvider = sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	})
	ctx := t.Context()
	metrics := func() (unsettled, settled int64) {
		return metricValue(t, reader, "einvoice.unsettled_documents"), metricValue(t, reader, "einvoice.settled_documents")
	}
	unsettled, settled := metrics()
	require.Zero(t, unsettled)
	require.Zero(t, settled)

	for i := range 2 {
		_, err := client.GenerateIrn(ctx, &einvoicev1.GenerateIrnRequest{Invoice: docJSON(t, invoiceMap(e.sb.Clock.Now(), fmt.Sprintf("M/%d", i), 1))})
		require.Equal(t, codes.Unavailable, status.Code(err), "%v", err)
	}
	unsettled, _ = metrics()
	require.Equal(t, int64(2), unsettled, "both answers were lost")

	e.sb.SetFaults(sandbox.Faults{})
	n, err := svc.SettlePending(ctx)
	require.NoError(t, err)
	require.Equal(t, 2, n)
	unsettled, settled = metrics()
	require.Zero(t, unsettled)
	require.Equal(t, int64(2), settled)
}

// metricValue is the sum of the data points of the int64 gauge or counter name that
// reader collects now (0 when it has none).
func metricValue(t *testing.T, reader *sdkmetric.ManualReader, name string) int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(t.Context(), &rm))
	var n int64
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			switch d := m.Data.(type) {
			case metricdata.Gauge[int64]:
				for _, p := range d.DataPoints {
					n += p.Value
				}
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					n += p.Value
				}
			default:
				t.Fatalf("%s: %T is not an int64 gauge or counter", name, m.Data)
			}
		}
	}
	return n
}

// metricByAttr is the int64 gauge name that reader collects now, by the value of its
// attribute key.
func metricByAttr(t *testing.T, reader *sdkmetric.ManualReader, name, key string) map[string]int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(t.Context(), &rm))
	out := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if g, ok := m.Data.(metricdata.Gauge[int64]); ok && m.Name == name {
				for _, p := range g.DataPoints {
					v, _ := p.Attributes.Value(attribute.Key(key))
					out[v.AsString()] = p.Value
				}
			}
		}
	}
	return out
}

// Cancelling a document whose registration outcome is unknown (the caller got
// OUTCOME_UNKNOWN with its IRN, and gives up on the invoice) asks the IRP first: the IRN it
// registered is stored and then cancelled, rather than answered "not registered" while it
// stays active at the IRP.
func TestCancelAfterAnUnknownOutcomeCancelsWhatTheIRPRegistered(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e, _, reg, err := pendingAtTheIRP(t, db)
		info, _ := errorInfo(t, err)
		irn := info.GetMetadata()["irn"]
		require.Equal(t, reg.Irn, irn)

		res, err := e.client.CancelIrn(t.Context(), &einvoicev1.CancelIrnRequest{Irn: irn, CnlRsn: "3", CnlRem: "order cancelled"})
		require.NoError(t, err)
		require.False(t, res.GetAlreadyCancelled())
		require.Equal(t, "CANCELLED", readRow(t, db, irn).State)
		require.Equal(t, "CNL", e.sb.Registered()[0].Status, "cancelled at the IRP")
	})
}

// Cancelling a document whose send the IRP never processed (its outcome unknown to
// irpgate) is NOT_FOUND in the IRP's words: there is nothing to cancel.
func TestCancelAfterAnUnknownOutcomeOfNothingIsNotFound(t *testing.T) {
	db := storetest.SQLite(t)
	e := setup(t, db, sandboxtest.WithFaults(sandbox.Faults{ErrorRate: 1, ErrorMix: sandbox.ErrorMix{HTTP5xx: 1}, Only: []string{sandbox.OpGenerate}}))
	_, client := e.service(t, func(c *einvoice.Config) { c.MaxAttempts = 1 })
	_, err := client.GenerateIrn(t.Context(), &einvoicev1.GenerateIrnRequest{Invoice: docJSON(t, invoiceMap(e.sb.Clock.Now(), "", 1))})
	info, _ := errorInfo(t, err)
	require.Equal(t, "ERROR_REASON_OUTCOME_UNKNOWN", info.GetReason())
	irn := info.GetMetadata()["irn"]

	_, err = client.CancelIrn(t.Context(), &einvoicev1.CancelIrnRequest{Irn: irn, CnlRsn: "3", CnlRem: "order cancelled"})
	require.Equal(t, codes.NotFound, status.Code(err), "%v", err)
	require.Contains(t, status.Convert(err).Message(), "the IRP has no e-invoice")
	require.Zero(t, e.sb.Stats().CancelCalls, "nothing was sent to cancel")
	require.Equal(t, "PENDING", readRow(t, db, irn).State, "left to the settling")
}

// heldSends is an http.RoundTripper to the IRP that holds each generate call until the
// test releases it, then passes it on and loses the IRP's answer (a 502 without a NIC
// envelope): a send that is on its way, whose outcome its sender will not learn. With
// unreachable, a released call fails without reaching the IRP instead.
type heldSends struct {
	held        chan struct{} // a generate call is being held
	release     chan struct{} // let the held calls through
	unreachable bool
}

// holdSends returns a heldSends whose calls are released when the test ends, if not before.
func holdSends(t *testing.T, unreachable bool) *heldSends {
	h := &heldSends{held: make(chan struct{}, 1), release: make(chan struct{}), unreachable: unreachable}
	t.Cleanup(func() {
		select {
		case <-h.release:
		default:
			close(h.release)
		}
	})
	return h
}

// irpClient is an IRP client of e's sandbox over rt, without retries.
func (e *env) irpClient(t *testing.T, rt http.RoundTripper) *irpclient.Client {
	c, err := irpclient.New(irpclient.Config{
		BaseURLs:   map[string]string{irpclient.NIC1: e.sb.URL, irpclient.NIC2: e.sb.NIC2URL},
		DefaultIRP: irpclient.NIC1, HTTPClient: &http.Client{Transport: rt},
		PublicKeys: map[string]*rsa.PublicKey{irpclient.NIC1: e.sb.PublicKey(), irpclient.NIC2: e.sb.PublicKey()},
		MaxRetries: -1,
	})
	require.NoError(t, err)
	return c.WithSessions(irpclient.NewLocalSessions(c, e.sb.Credentials(), irpclient.WithClock(e.sb.Clock.Now)))
}

func (h *heldSends) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method != http.MethodPost || r.URL.Path != "/eicore/v1.03/Invoice" {
		return http.DefaultTransport.RoundTrip(r)
	}
	select {
	case h.held <- struct{}{}:
	default: // the test has not taken the last signal yet
	}
	<-h.release
	if h.unreachable {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	}
	res, err := http.DefaultTransport.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	_, _ = io.Copy(io.Discard, res.Body)
	_ = res.Body.Close()
	return &http.Response{
		StatusCode: http.StatusBadGateway, Status: "502 Bad Gateway", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{}, Body: io.NopCloser(strings.NewReader("lost")), Request: r,
	}, nil
}

// Two replicas over one database: a document one of them left with its outcome unknown
// is sent again through the other. While that send is on its way, the first replica's
// settling finds no IRN at the IRP: it must not mark the document FAILED, which would
// leave it FAILED once the send registers it and its answer is lost too. The document
// stays PENDING and is settled from the IRP's registration. Only a document nobody has
// touched for the stale period (its sender gone) is marked FAILED on the IRP's word.
func TestSettlingLeavesADocumentAnotherReplicaIsSending(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		// Replica A: the IRP fails the send before doing anything, the connection reset.
		e := setup(t, db, sandboxtest.WithFaults(sandbox.Faults{ErrorRate: 1, ErrorMix: sandbox.ErrorMix{Reset: 1}, Only: []string{sandbox.OpGenerate}}))
		a, clientA := e.service(t, func(c *einvoice.Config) { c.MaxAttempts = 1 })
		body := docJSON(t, invoiceMap(e.sb.Clock.Now(), "", 1))
		_, err := clientA.GenerateIrn(t.Context(), &einvoicev1.GenerateIrnRequest{Invoice: body})
		info, _ := errorInfo(t, err)
		require.Equal(t, "ERROR_REASON_OUTCOME_UNKNOWN", info.GetReason(), "%v", err)
		irn := info.GetMetadata()["irn"]
		require.Empty(t, e.sb.Registered())
		e.sb.SetFaults(sandbox.Faults{})

		// Replica B, a second later, with its own IRP client, whose send is held on its way.
		e.sb.Clock.Advance(time.Second)
		hold := holdSends(t, false)
		b, clientB := e.service(t, func(c *einvoice.Config) { c.IRP, c.MaxAttempts = e.irpClient(t, hold), 1 })
		sent := make(chan error, 1)
		go func() {
			_, err := clientB.GenerateIrn(t.Context(), &einvoicev1.GenerateIrnRequest{Invoice: body})
			sent <- err
		}()
		<-hold.held

		n, err := a.SettlePending(t.Context())
		require.NoError(t, err)
		require.Zero(t, n, "replica B is sending the document: A leaves it to B's outcome")
		require.Equal(t, "PENDING", readRow(t, db, irn).State)

		close(hold.release)
		info, _ = errorInfo(t, <-sent)
		require.Equal(t, "ERROR_REASON_OUTCOME_UNKNOWN", info.GetReason())
		regs := e.sb.Registered()
		require.Len(t, regs, 1, "B's send registered the document; its answer was lost")
		require.Equal(t, "PENDING", readRow(t, db, irn).State)

		requireSettled(t, b, db, regs[0])
		n, err = a.SettlePending(t.Context())
		require.NoError(t, err)
		require.Equal(t, 1, n, "A learns the document is settled")
		require.Equal(t, "ACTIVE", readRow(t, db, irn).State)
	})
}

// A document another replica took over and then left (that replica gone mid-send) is
// marked FAILED by the settling once nobody has touched it for the stale period, when the
// IRP has no IRN for it, so it may be sent again.
func TestSettlingFailsADocumentItsLastSenderLeft(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := setup(t, db, sandboxtest.WithFaults(sandbox.Faults{ErrorRate: 1, ErrorMix: sandbox.ErrorMix{Reset: 1}, Only: []string{sandbox.OpGenerate}}))
		a, clientA := e.service(t, func(c *einvoice.Config) { c.MaxAttempts = 1 })
		_, clientB := e.service(t, func(c *einvoice.Config) { c.MaxAttempts = 1 })
		body := docJSON(t, invoiceMap(e.sb.Clock.Now(), "", 1))
		_, err := clientA.GenerateIrn(t.Context(), &einvoicev1.GenerateIrnRequest{Invoice: body})
		info, _ := errorInfo(t, err)
		require.Equal(t, "ERROR_REASON_OUTCOME_UNKNOWN", info.GetReason(), "%v", err)
		irn := info.GetMetadata()["irn"]
		// B sends it again a second later; its outcome is unknown too, and B stops (its
		// settling never runs).
		e.sb.Clock.Advance(time.Second)
		_, err = clientB.GenerateIrn(t.Context(), &einvoicev1.GenerateIrnRequest{Invoice: body})
		info, _ = errorInfo(t, err)
		require.Equal(t, "ERROR_REASON_OUTCOME_UNKNOWN", info.GetReason(), "%v", err)
		require.Empty(t, e.sb.Registered())
		e.sb.SetFaults(sandbox.Faults{})

		n, err := a.SettlePending(t.Context())
		require.NoError(t, err)
		require.Zero(t, n, "B's send is too recent to take as abandoned")
		require.Equal(t, "PENDING", readRow(t, db, irn).State)

		e.sb.Clock.Advance(3 * time.Minute)
		n, err = a.SettlePending(t.Context())
		require.NoError(t, err)
		require.Equal(t, 1, n)
		row := readRow(t, db, irn)
		require.Equal(t, "FAILED", row.State)
		require.Contains(t, row.LastError, "not registered at the IRP")
	})
}

// Two replicas take one new document at once: A writes its row and cannot reach the IRP,
// while B, finding the row pending, sends the document. A gives up having sent nothing; it
// must leave the row to B (B's send may register it, and its answer may be lost): neither
// move it to the other NIC IRP nor mark it FAILED. The IRP's registration is then settled
// into the row.
func TestAReplicaThatNeverReachedTheIRPLeavesTheDocumentToTheOneSendingIt(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := setup(t, db)
		holdA, holdB := holdSends(t, true), holdSends(t, false)
		// A tries three times: after two it would move the document to NIC2.
		_, clientA := e.service(t, func(c *einvoice.Config) { c.IRP, c.MaxAttempts, c.Failover = e.irpClient(t, holdA), 3, true })
		b, clientB := e.service(t, func(c *einvoice.Config) { c.IRP, c.MaxAttempts = e.irpClient(t, holdB), 1 })
		body := docJSON(t, invoiceMap(e.sb.Clock.Now(), "", 1))
		send := func(client einvoicev1.EInvoiceServiceClient) <-chan error {
			done := make(chan error, 1)
			go func() {
				_, err := client.GenerateIrn(t.Context(), &einvoicev1.GenerateIrnRequest{Invoice: body})
				done <- err
			}()
			return done
		}
		sentA := send(clientA)
		<-holdA.held // A has written the row and is on its way to the IRP
		e.sb.Clock.Advance(time.Second)
		sentB := send(clientB)
		<-holdB.held // B has taken the pending row and is on its way too

		close(holdA.release)
		require.Equal(t, codes.Unavailable, status.Code(<-sentA))
		var state, irp string
		require.NoError(t, db.QueryRowContext(t.Context(), `SELECT state, irp FROM einvoice_documents`).Scan(&state, &irp))
		require.Equal(t, "PENDING", state, "A sent nothing, but B may have: the row is B's")
		require.Equal(t, "NIC1", irp, "where B is sending it")

		close(holdB.release)
		info, _ := errorInfo(t, <-sentB)
		require.Equal(t, "ERROR_REASON_OUTCOME_UNKNOWN", info.GetReason())
		regs := e.sb.Registered()
		require.Len(t, regs, 1)
		require.Equal(t, "PENDING", readRow(t, db, regs[0].Irn).State)
		requireSettled(t, b, db, regs[0])
	})
}
