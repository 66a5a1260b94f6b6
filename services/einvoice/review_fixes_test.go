package einvoice_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	einvoicev1 "github.com/irpgate/irpgate/gen/go/irpgate/einvoice/v1"
	"github.com/irpgate/irpgate/internal/platform"
	"github.com/irpgate/irpgate/internal/store"
	"github.com/irpgate/irpgate/internal/store/storetest"
)

// Retries that race with one new Idempotency-Key and the same body (an ERP timing out and
// sending again while the first is still on its way) all get the one registration, on
// PostgreSQL too, where both may find no key and insert it: never an internal error.
func TestRacingRetriesWithOneNewIdempotencyKey(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := setup(t, db)
		for round := range 5 {
			body := docJSON(t, invoiceMap(e.sb.Clock.Now(), "", 1))
			ctx := withKey(t.Context(), fmt.Sprintf("race-%d", round))
			var wg sync.WaitGroup
			irns := make([]string, 8)
			errs := make([]error, 8)
			for i := range errs {
				wg.Go(func() {
					res, err := e.client.GenerateIrn(ctx, &einvoicev1.GenerateIrnRequest{Invoice: body})
					irns[i], errs[i] = res.GetDetails().GetIrn(), err
				})
			}
			wg.Wait()
			for i, err := range errs {
				require.NoError(t, err, "round %d", round)
				require.Equal(t, irns[0], irns[i])
			}
		}
		require.Len(t, e.sb.Registered(), 5)
	})
}

// A document cancelled while its registration was UNVERIFIED, sent again: it is cancelled,
// so GenerateIrn should answer DOCUMENT_CANCELLED (NIC 2278), as for any cancelled document.
func TestACancelledUnverifiedDocumentSentAgainIsCancelled(t *testing.T) {
	e := setup(t, storetest.SQLite(t))
	ctx := t.Context()
	_, wrong := e.service(t, wrongCertificates(t))
	body := docJSON(t, invoiceMap(e.sb.Clock.Now(), "", 1))
	_, err := wrong.GenerateIrn(ctx, &einvoicev1.GenerateIrnRequest{Invoice: body})
	reg := e.sb.Registered()[0]
	requireSignatureInvalid(t, err, reg)
	_, err = wrong.CancelIrn(ctx, &einvoicev1.CancelIrnRequest{Irn: reg.Irn, CnlRsn: "2", CnlRem: "Wrong entry"})
	require.NoError(t, err)
	require.Equal(t, "CANCELLED", readRow(t, e.db, reg.Irn).State)

	_, err = wrong.GenerateIrn(withKey(ctx, "erp-9"), &einvoicev1.GenerateIrnRequest{Invoice: body})
	require.Equal(t, "ERROR_REASON_DOCUMENT_CANCELLED", platform.ReasonOf(err).String(), "%v", err)
}

// The dry run of a document whose registration is UNVERIFIED says REPLAY, with the
// acknowledgement but not the signed data that did not verify (reads never answer it).
func TestValidateNeverAnswersUnverifiedSignedData(t *testing.T) {
	e := setup(t, storetest.SQLite(t))
	ctx := t.Context()
	_, wrong := e.service(t, wrongCertificates(t))
	body := docJSON(t, invoiceMap(e.sb.Clock.Now(), "", 1))
	_, err := wrong.GenerateIrn(ctx, &einvoicev1.GenerateIrnRequest{Invoice: body})
	requireSignatureInvalid(t, err, e.sb.Registered()[0])

	res, err := wrong.ValidateInvoice(ctx, &einvoicev1.ValidateInvoiceRequest{Invoice: body})
	require.NoError(t, err)
	require.Equal(t, einvoicev1.GenerateOutcome_GENERATE_OUTCOME_REPLAY, res.GetOutcome())
	require.Equal(t, e.sb.Registered()[0].AckNo, res.GetRegistration().GetAckNo())
	require.Empty(t, res.GetRegistration().GetSignedInvoice(), "unverified signed data answered as a registration")
	require.Empty(t, res.GetRegistration().GetSignedQrCode())
}

// An IRN registered outside irpgate, cancelled with the seller GSTIN written in lower case
// (GetIrn accepts it so; the IRN is lower-cased by CancelIrn too).
func TestCancelOfAnIRNNotStoredTakesALowerCaseGSTIN(t *testing.T) {
	e := setup(t, storetest.SQLite(t))
	det, err := e.irp.GenerateIRN(t.Context(), seller, docJSON(t, invoiceMap(e.sb.Clock.Now(), "", 1)))
	require.NoError(t, err)
	lower := strings.ToLower(seller)
	_, err = e.client.GetIrn(t.Context(), &einvoicev1.GetIrnRequest{Irn: det.Irn, Gstin: lower})
	require.NoError(t, err, "GetIrn takes it")
	_, err = e.db.ExecContext(t.Context(), `DELETE FROM einvoice_documents`)
	require.NoError(t, err)
	_, err = e.client.CancelIrn(t.Context(), &einvoicev1.CancelIrnRequest{Irn: det.Irn, Gstin: lower, CnlRsn: "1", CnlRem: "dup"})
	require.NoError(t, err)
}
