package einvoice_test

import (
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	einvoicev1 "github.com/irpgate/irpgate/gen/go/irpgate/einvoice/v1"
	"github.com/irpgate/irpgate/internal/store"
	"github.com/irpgate/irpgate/internal/store/storetest"
	doc "github.com/irpgate/irpgate/pkg/einvoice"
	"github.com/irpgate/irpgate/services/einvoice"
	"github.com/irpgate/irpgate/services/sandbox"
)

// otherCertificate is a signing certificate the sandbox does not sign with: a service
// configured with it verifies nothing the sandbox signs.
var otherCertificate = sync.OnceValues(func() (*x509.Certificate, error) {
	keys, err := sandbox.GenerateKeys()
	if err != nil {
		return nil, err
	}
	return keys.Certificate, nil
})

// wrongCertificates configures a service with otherCertificate.
func wrongCertificates(t *testing.T) func(*einvoice.Config) {
	t.Helper()
	cert, err := otherCertificate()
	require.NoError(t, err)
	return func(c *einvoice.Config) { c.Certificates = []*x509.Certificate{cert} }
}

// storedRow is what a test reads of a row of einvoice_documents.
type storedRow struct {
	State, SignedInvoice, SignedQRCode, LastError, AckDt, BuyerGSTIN string
	AckNo                                                            int64
	TotInvVal                                                        float64
}

func readRow(t *testing.T, db *store.DB, irn string) storedRow {
	t.Helper()
	var r storedRow
	require.NoError(t, db.QueryRowContext(t.Context(), `SELECT state, signed_invoice, signed_qr_code, last_error,
		ack_dt, ack_no, tot_inv_val, buyer_gstin FROM einvoice_documents WHERE irn = $1`, irn).
		Scan(&r.State, &r.SignedInvoice, &r.SignedQRCode, &r.LastError, &r.AckDt, &r.AckNo, &r.TotInvVal, &r.BuyerGSTIN))
	return r
}

// requireSignatureInvalid checks err is SIGNATURE_INVALID naming the registration reg.
func requireSignatureInvalid(t *testing.T, err error, reg sandbox.Registration) {
	t.Helper()
	require.Equal(t, codes.FailedPrecondition, status.Code(err), "%v", err)
	info, _ := errorInfo(t, err)
	require.Equal(t, "ERROR_REASON_SIGNATURE_INVALID", info.GetReason())
	require.Equal(t, reg.Irn, info.GetMetadata()["irn"])
	require.Equal(t, strconv.FormatInt(reg.AckNo, 10), info.GetMetadata()["ack_no"])
	require.NotEmpty(t, info.GetMetadata()["ack_dt"])
	require.Contains(t, status.Convert(err).Message(), "SignedInvoice")
	require.Contains(t, status.Convert(err).Message(), reg.Irn)
}

// A signed answer that does not verify on a fresh generate: the IRP's registration is
// stored UNVERIFIED with all its signed data and never sent again; once the service has
// the right certificates it answers the stored registration.
func TestSignedAnswerThatDoesNotVerifyIsStoredAndNeverSentAgain(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := setup(t, db)
		ctx := t.Context()
		_, wrong := e.service(t, wrongCertificates(t))
		inv := invoiceMap(e.sb.Clock.Now(), "", 2)
		dd := inv["DocDtls"].(map[string]any)

		_, err := wrong.GenerateIrn(ctx, &einvoicev1.GenerateIrnRequest{Invoice: docJSON(t, inv)})
		require.Len(t, e.sb.Registered(), 1, "the IRP registered it")
		reg := e.sb.Registered()[0]
		requireSignatureInvalid(t, err, reg)
		row := readRow(t, db, reg.Irn)
		require.Equal(t, "UNVERIFIED", row.State)
		require.Equal(t, reg.SignedInvoice, row.SignedInvoice)
		require.Equal(t, reg.SignedQRCode, row.SignedQRCode)
		require.Equal(t, reg.AckNo, row.AckNo)
		require.NotEmpty(t, row.AckDt)
		require.Contains(t, row.LastError, "SignedInvoice")
		require.EqualValues(t, 1, e.sb.Stats().ByOperation[sandbox.OpGenerate])

		t.Run("sent again, the IRP is not called and the answer is the same", func(t *testing.T) {
			before := e.sb.Stats()
			_, err := wrong.GenerateIrn(ctx, &einvoicev1.GenerateIrnRequest{Invoice: docJSON(t, inv)})
			requireSignatureInvalid(t, err, reg)
			after := e.sb.Stats()
			require.Equal(t, before.GenerateCalls, after.GenerateCalls)
			require.Equal(t, before.GetCalls, after.GetCalls)
			require.Len(t, e.sb.Registered(), 1)
			require.Equal(t, "UNVERIFIED", readRow(t, db, reg.Irn).State)
		})
		t.Run("reads answer SIGNATURE_INVALID from the store", func(t *testing.T) {
			before := e.sb.Stats().Requests
			_, err := wrong.GetIrn(ctx, &einvoicev1.GetIrnRequest{Irn: reg.Irn, Gstin: seller})
			requireSignatureInvalid(t, err, reg)
			_, err = wrong.GetIrnByDocument(ctx, &einvoicev1.GetIrnByDocumentRequest{
				Gstin: seller, DocType: "INV", DocNo: dd["No"].(string), DocDate: dd["Dt"].(string),
			})
			requireSignatureInvalid(t, err, reg)
			require.Equal(t, before, e.sb.Stats().Requests)
		})
		t.Run("with the right certificates the stored registration is answered", func(t *testing.T) {
			calls := e.sb.Stats().GenerateCalls
			_, right := e.service(t, nil)
			res, err := right.GenerateIrn(ctx, &einvoicev1.GenerateIrnRequest{Invoice: docJSON(t, inv)})
			require.NoError(t, err)
			require.True(t, res.GetReplayed())
			require.Equal(t, reg.Irn, res.GetDetails().GetIrn())
			require.Equal(t, reg.AckNo, res.GetDetails().GetAckNo())
			require.Equal(t, reg.SignedInvoice, res.GetDetails().GetSignedInvoice())
			require.Equal(t, reg.SignedQRCode, res.GetDetails().GetSignedQrCode())
			require.Equal(t, "ACT", res.GetDetails().GetStatus())
			requireVerified(t, e.sb, res.GetDetails())
			require.Equal(t, calls, e.sb.Stats().GenerateCalls)
			row := readRow(t, db, reg.Irn)
			require.Equal(t, "ACTIVE", row.State)
			require.Empty(t, row.LastError)
			require.Len(t, e.sb.Registered(), 1)

			// Verified once, it is a plain registration for every service.
			got, err := wrong.GetIrn(ctx, &einvoicev1.GetIrnRequest{Irn: reg.Irn})
			require.NoError(t, err)
			require.Equal(t, reg.AckNo, got.GetDetails().GetAckNo())
		})
	})
}

// The original of a 2150 duplicate that does not verify is stored UNVERIFIED too; its buyer
// and total are compared once it verifies.
func TestDuplicateOriginalThatDoesNotVerifyIsStored(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := setup(t, db)
		ctx := t.Context()
		now := e.sb.Clock.Now()
		_, wrong := e.service(t, wrongCertificates(t))
		register := func(inv map[string]any) sandbox.Registration {
			b, err := json.Marshal(inv)
			require.NoError(t, err)
			d, err := e.irp.GenerateIRN(ctx, seller, b)
			require.NoError(t, err)
			for _, r := range e.sb.Registered() {
				if r.Irn == d.Irn {
					return r
				}
			}
			t.Fatalf("IRN %s is not registered", d.Irn)
			return sandbox.Registration{}
		}

		t.Run("same buyer and total: adopted once it verifies", func(t *testing.T) {
			inv := invoiceMap(now, "", 2)
			orig := register(inv)
			_, err := wrong.GenerateIrn(ctx, &einvoicev1.GenerateIrnRequest{Invoice: docJSON(t, inv)})
			requireSignatureInvalid(t, err, orig)
			row := readRow(t, db, orig.Irn)
			require.Equal(t, "UNVERIFIED", row.State)
			require.Equal(t, orig.SignedInvoice, row.SignedInvoice)

			calls := e.sb.Stats().GenerateCalls
			_, err = wrong.GenerateIrn(ctx, &einvoicev1.GenerateIrnRequest{Invoice: docJSON(t, inv)})
			requireSignatureInvalid(t, err, orig)
			got, err := e.client.GenerateIrn(ctx, &einvoicev1.GenerateIrnRequest{Invoice: docJSON(t, inv)})
			require.NoError(t, err)
			require.True(t, got.GetReplayed())
			require.Equal(t, orig.Irn, got.GetDetails().GetIrn())
			require.Equal(t, orig.AckNo, got.GetDetails().GetAckNo())
			require.Equal(t, calls, e.sb.Stats().GenerateCalls)
			require.Equal(t, "ACTIVE", readRow(t, db, orig.Irn).State)
		})
		t.Run("different total: the conflict is reported once it verifies", func(t *testing.T) {
			inv := invoiceMap(now, "", 2)
			orig := register(inv)
			changed := invoiceMap(now, inv["DocDtls"].(map[string]any)["No"].(string), 3)
			_, err := wrong.GenerateIrn(ctx, &einvoicev1.GenerateIrnRequest{Invoice: docJSON(t, changed)})
			requireSignatureInvalid(t, err, orig)
			require.Equal(t, "UNVERIFIED", readRow(t, db, orig.Irn).State)

			calls := e.sb.Stats().GenerateCalls
			_, err = e.client.GenerateIrn(ctx, &einvoicev1.GenerateIrnRequest{Invoice: docJSON(t, changed)})
			require.Equal(t, codes.AlreadyExists, status.Code(err), "%v", err)
			info, _ := errorInfo(t, err)
			require.Equal(t, "ERROR_REASON_DUPLICATE_CONFLICT", info.GetReason())
			require.Equal(t, orig.Irn, info.GetMetadata()["irn"])
			require.Equal(t, calls, e.sb.Stats().GenerateCalls)
			row := readRow(t, db, orig.Irn)
			require.Equal(t, "ACTIVE", row.State)
			require.InDelta(t, orig.TotInvVal, row.TotInvVal, 0.001, "the store mirrors the IRP")
		})
	})
}

// An UNVERIFIED registration may be cancelled (the IRP has it); its signed data is still
// checked before it is answered.
func TestUnverifiedRegistrationCanBeCancelled(t *testing.T) {
	e := setup(t, storetest.SQLite(t))
	ctx := t.Context()
	_, wrong := e.service(t, wrongCertificates(t))
	_, err := wrong.GenerateIrn(ctx, &einvoicev1.GenerateIrnRequest{Invoice: docJSON(t, invoiceMap(e.sb.Clock.Now(), "", 1))})
	reg := e.sb.Registered()[0]
	requireSignatureInvalid(t, err, reg)

	c, err := wrong.CancelIrn(ctx, &einvoicev1.CancelIrnRequest{Irn: reg.Irn, CnlRsn: "2", CnlRem: "Wrong entry"})
	require.NoError(t, err)
	require.False(t, c.GetAlreadyCancelled())
	require.Equal(t, "CNL", e.sb.Registered()[0].Status)
	require.Equal(t, "CANCELLED", readRow(t, e.db, reg.Irn).State)

	_, err = wrong.GetIrn(ctx, &einvoicev1.GetIrnRequest{Irn: reg.Irn})
	requireSignatureInvalid(t, err, reg)
	again, err := wrong.CancelIrn(ctx, &einvoicev1.CancelIrnRequest{Irn: reg.Irn, CnlRsn: "2", CnlRem: "Wrong entry"})
	require.NoError(t, err)
	require.True(t, again.GetAlreadyCancelled())

	got, err := e.client.GetIrn(ctx, &einvoicev1.GetIrnRequest{Irn: reg.Irn})
	require.NoError(t, err)
	require.Equal(t, "CNL", got.GetDetails().GetStatus())
	require.Equal(t, c.GetCancelDate(), got.GetDetails().GetCancelDate())
	requireVerified(t, e.sb, got.GetDetails())
	row := readRow(t, e.db, reg.Irn)
	require.Equal(t, "CANCELLED", row.State)
	require.Empty(t, row.LastError)
}

// A registration read from the IRP whose signed answer does not verify is refused as
// SIGNATURE_INVALID and stores nothing; read with the right certificates it is stored, with
// the same body digest GenerateIrn gives the same document.
func TestReadThatDoesNotVerifyStoresNothing(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := setup(t, db)
		ctx := t.Context()
		_, wrong := e.service(t, wrongCertificates(t))
		body := docJSON(t, invoiceMap(e.sb.Clock.Now(), "", 2))
		d, err := e.irp.GenerateIRN(ctx, seller, body) // registered at the IRP only
		require.NoError(t, err)

		_, err = wrong.GetIrn(ctx, &einvoicev1.GetIrnRequest{Irn: d.Irn, Gstin: seller})
		require.Equal(t, codes.FailedPrecondition, status.Code(err), "%v", err)
		info, _ := errorInfo(t, err)
		require.Equal(t, "ERROR_REASON_SIGNATURE_INVALID", info.GetReason())
		require.Equal(t, d.Irn, info.GetMetadata()["irn"])
		require.Contains(t, status.Convert(err).Message(), "nothing was stored")
		var n int
		require.NoError(t, db.QueryRowContext(ctx, `SELECT COUNT(*) FROM einvoice_documents WHERE irn = $1`, d.Irn).Scan(&n))
		require.Zero(t, n)

		got, err := e.client.GetIrn(ctx, &einvoicev1.GetIrnRequest{Irn: d.Irn, Gstin: seller})
		require.NoError(t, err)
		require.Equal(t, d.AckNo, got.GetDetails().GetAckNo())
		var digest string
		require.NoError(t, db.QueryRowContext(ctx, `SELECT body_sha256 FROM einvoice_documents WHERE irn = $1`, d.Irn).Scan(&digest))
		inv, err := doc.Decode(body)
		require.NoError(t, err)
		sum := inv.Digest()
		require.Equal(t, hex.EncodeToString(sum[:]), digest, "the digest of the document as the IRP signed it is the posted document's")
	})
}
