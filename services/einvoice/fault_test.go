package einvoice_test

import (
	"context"
	"crypto/x509"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"

	einvoicev1 "github.com/irpgate/irpgate/gen/go/irpgate/einvoice/v1"
	"github.com/irpgate/irpgate/internal/store"
	"github.com/irpgate/irpgate/internal/store/storetest"
	"github.com/irpgate/irpgate/pkg/irpcrypto"
	"github.com/irpgate/irpgate/services/sandbox"
	"github.com/irpgate/irpgate/services/sandbox/sandboxtest"
)

// With the IRP losing 30% of answers after registering and failing 10% of calls outright,
// every document is registered exactly once, stored with its signed data, and never
// reported as failed; the IRP's registry and the store agree one for one.
func TestExactlyOnceUnderLostAnswersAnd5xx(t *testing.T) {
	n := 500
	if testing.Short() {
		n = 100
	}
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := setup(t, db, sandboxtest.WithFaults(sandbox.Faults{
			AnswerLostRate: 0.30,
			ErrorRate:      0.10,
			ErrorMix:       sandbox.ErrorMix{HTTP5xx: 1, Reset: 1},
			TimeoutAfter:   50 * time.Millisecond,
		}))
		ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
		defer cancel()
		now := e.sb.Clock.Now()
		certs := []*x509.Certificate{e.sb.Certificate()}

		irns := make([]string, n)
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(8)
		for i := range n {
			inv := docJSON(t, invoiceMap(now, "", 1+i%3))
			g.Go(func() error {
				res, err := e.client.GenerateIrn(gctx, &einvoicev1.GenerateIrnRequest{Invoice: inv})
				if err != nil {
					return err
				}
				if _, err := irpcrypto.Verify(res.GetDetails().GetSignedInvoice(), certs); err != nil {
					return err
				}
				irns[i] = res.GetDetails().GetIrn()
				return nil
			})
		}
		require.NoError(t, g.Wait(), "no document may be reported as failed")

		st := e.sb.Stats()
		t.Logf("generate calls %d, generated %d, duplicates (2150) %d, answers lost %d, faults %d",
			st.GenerateCalls, st.Generated, st.Duplicates, st.AnswersLost, st.FaultsInjected)
		require.Positive(t, st.AnswersLost)
		require.Positive(t, st.Duplicates, "lost answers must have been reconciled through 2150")

		registered := map[string]sandbox.Registration{}
		for _, r := range e.sb.Registered() {
			registered[r.Irn] = r
		}
		require.Len(t, registered, n, "each document registered exactly once")

		rows, err := db.QueryContext(ctx, `SELECT irn, state, ack_no, signed_invoice, signed_qr_code FROM einvoice_documents`)
		require.NoError(t, err)
		defer rows.Close()
		stored := map[string]bool{}
		for rows.Next() {
			var irn, state, si, qr string
			var ackNo int64
			require.NoError(t, rows.Scan(&irn, &state, &ackNo, &si, &qr))
			require.Equal(t, "ACTIVE", state, irn)
			reg, ok := registered[irn]
			require.True(t, ok, "stored IRN %s is not in the IRP's registry", irn)
			require.Equal(t, reg.AckNo, ackNo)
			require.Equal(t, reg.SignedInvoice, si)
			require.Equal(t, reg.SignedQRCode, qr)
			stored[irn] = true
		}
		require.NoError(t, rows.Err())
		require.Len(t, stored, n)
		for _, irn := range irns {
			require.True(t, stored[irn])
		}
	})
}

// An answer lost after registering is recovered in the same call through 2150/DUPIRN.
func TestLostAnswerIsReconciledInTheSameCall(t *testing.T) {
	e := setup(t, storetest.SQLite(t), sandboxtest.WithFaults(sandbox.Faults{
		AnswerLostRate: 1, ErrorMix: sandbox.ErrorMix{HTTP5xx: 1}, Only: []string{sandbox.OpGenerate},
	}))
	res, err := e.client.GenerateIrn(t.Context(), &einvoicev1.GenerateIrnRequest{Invoice: docJSON(t, invoiceMap(e.sb.Clock.Now(), "", 1))})
	require.NoError(t, err)
	require.False(t, res.GetReplayed(), "this call's own registration")
	require.Len(t, e.sb.Registered(), 1)
	require.Equal(t, e.sb.Registered()[0].Irn, res.GetDetails().GetIrn())
	require.EqualValues(t, 1, e.sb.Stats().Duplicates)
	requireVerified(t, e.sb, res.GetDetails())
}

// When the IRP never answers the loop gives up after MaxAttempts with OUTCOME_UNKNOWN (never
// "not generated"), the row stays pending, and the next request finishes it.
func TestOutcomeUnknownIsBoundedAndResumable(t *testing.T) {
	e := setup(t, storetest.SQLite(t), sandboxtest.WithFaults(sandbox.Faults{
		ErrorRate: 1, ErrorMix: sandbox.ErrorMix{HTTP5xx: 1}, Only: []string{sandbox.OpGenerate},
	}))
	inv := docJSON(t, invoiceMap(e.sb.Clock.Now(), "", 1))
	_, err := e.client.GenerateIrn(t.Context(), &einvoicev1.GenerateIrnRequest{Invoice: inv})
	info, _ := errorInfo(t, err)
	require.Equal(t, "ERROR_REASON_OUTCOME_UNKNOWN", info.GetReason())
	require.EqualValues(t, 20, e.sb.Stats().ByOperation[sandbox.OpGenerate], "MaxAttempts bounds the sends")

	e.sb.SetFaults(sandbox.Faults{})
	res, err := e.client.GenerateIrn(t.Context(), &einvoicev1.GenerateIrnRequest{Invoice: inv})
	require.NoError(t, err)
	require.Len(t, e.sb.Registered(), 1)
	require.Equal(t, e.sb.Registered()[0].Irn, res.GetDetails().GetIrn())
	requireVerified(t, e.sb, res.GetDetails())
}

func TestRetryLoopHonoursTheContext(t *testing.T) {
	e := setup(t, storetest.SQLite(t), sandboxtest.WithFaults(sandbox.Faults{
		ErrorRate: 1, ErrorMix: sandbox.ErrorMix{HTTP5xx: 1}, Only: []string{sandbox.OpGenerate},
	}))
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := e.client.GenerateIrn(ctx, &einvoicev1.GenerateIrnRequest{Invoice: docJSON(t, invoiceMap(e.sb.Clock.Now(), "", 1))})
	require.Error(t, err)
	require.Less(t, time.Since(start), 2*time.Second)
}
