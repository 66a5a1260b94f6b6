package einvoice_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	einvoicev1 "github.com/irpgate/irpgate/gen/go/irpgate/einvoice/v1"
	"github.com/irpgate/irpgate/internal/callerauth"
	"github.com/irpgate/irpgate/internal/store"
	"github.com/irpgate/irpgate/internal/store/storetest"
)

func sellerContext(t *testing.T) context.Context {
	return callerauth.NewContext(t.Context(), callerauth.Caller{KeyID: "test", GSTINs: []string{seller}})
}

// requireStoreUnavailable checks err is STORE_UNAVAILABLE with a retry delay, and returns
// its metadata.
func requireStoreUnavailable(t *testing.T, err error) map[string]string {
	t.Helper()
	require.Equal(t, codes.Unavailable, status.Code(err), "%v", err)
	info, _ := errorInfo(t, err)
	require.Equal(t, "ERROR_REASON_STORE_UNAVAILABLE", info.GetReason())
	var retry bool
	for _, d := range status.Convert(err).Details() {
		_, ok := d.(*errdetails.RetryInfo)
		retry = retry || ok
	}
	require.True(t, retry, "a retry delay is given")
	return info.GetMetadata()
}

// With the database down before anything is sent, the caller is told to retry and the IRP
// sees nothing.
func TestDatabaseOutageBeforeSending(t *testing.T) {
	storetest.EachWithOutage(t, func(t *testing.T, db *store.DB, o storetest.Outage) {
		e := setup(t, db)
		body := docJSON(t, invoiceMap(e.sb.Clock.Now(), "", 1))
		o.Start()
		_, err := e.svc.GenerateIrn(sellerContext(t), &einvoicev1.GenerateIrnRequest{Invoice: body})
		requireStoreUnavailable(t, err)
		require.Contains(t, status.Convert(err).Message(), "nothing was sent to the IRP")
		require.Zero(t, e.sb.Stats().GenerateCalls)

		o.End()
		res, err := e.svc.GenerateIrn(sellerContext(t), &einvoicev1.GenerateIrnRequest{Invoice: body})
		require.NoError(t, err)
		require.Equal(t, "ACTIVE", readRow(t, db, res.GetDetails().GetIrn()).State)
	})
}

// A registration the IRP made while the database went down, or its disk filled, is not
// lost: the caller learns its IRN and AckNo and is told to retry, and the background
// settling stores the IRP's signed answer once the database is back, without sending the
// document again.
func TestRegistrationIsStoredAfterADatabaseOutage(t *testing.T) {
	for name, each := range map[string]func(*testing.T, func(*testing.T, *store.DB, storetest.Outage), ...storetest.Option){
		"down": storetest.EachWithOutage, "disk-full": storetest.EachWithFullDisk,
	} {
		t.Run(name, func(t *testing.T) {
			each(t, func(t *testing.T, db *store.DB, o storetest.Outage) {
				e := setup(t, db)
				svc := serviceOnAnswer(t, e, "/Invoice", o.Start)
				// Twenty lines: the signed answer is more than a page, so storing it needs
				// room a full disk does not have.
				body := docJSON(t, invoiceMap(e.sb.Clock.Now(), "", 20))

				_, err := svc.GenerateIrn(sellerContext(t), &einvoicev1.GenerateIrnRequest{Invoice: body})
				meta := requireStoreUnavailable(t, err)
				regs := e.sb.Registered()
				require.Len(t, regs, 1)
				require.Equal(t, regs[0].Irn, meta["irn"])
				require.Equal(t, strconv.FormatInt(regs[0].AckNo, 10), meta["ack_no"])
				require.Contains(t, status.Convert(err).Message(), regs[0].Irn)

				o.End()
				require.Equal(t, "PENDING", readRow(t, db, regs[0].Irn).State, "not stored during the outage")
				requireSettled(t, svc, db, regs[0])
				require.Equal(t, int64(1), e.sb.Stats().GenerateCalls, "settled without sending again")

				res, err := svc.GenerateIrn(sellerContext(t), &einvoicev1.GenerateIrnRequest{Invoice: body})
				require.NoError(t, err)
				require.True(t, res.GetReplayed())
				require.Equal(t, regs[0].Irn, res.GetDetails().GetIrn())
			})
		})
	}
}

// Likewise a cancellation the IRP made while the database went down.
func TestCancellationIsStoredAfterADatabaseOutage(t *testing.T) {
	storetest.EachWithOutage(t, func(t *testing.T, db *store.DB, o storetest.Outage) {
		e := setup(t, db)
		res, err := e.svc.GenerateIrn(sellerContext(t), &einvoicev1.GenerateIrnRequest{Invoice: docJSON(t, invoiceMap(e.sb.Clock.Now(), "", 1))})
		require.NoError(t, err)
		irn := res.GetDetails().GetIrn()

		svc := serviceOnAnswer(t, e, "/Invoice/Cancel", o.Start)
		_, err = svc.CancelIrn(sellerContext(t), &einvoicev1.CancelIrnRequest{Irn: irn, CnlRsn: "2", CnlRem: "Wrong entry"})
		meta := requireStoreUnavailable(t, err)
		require.Equal(t, irn, meta["irn"])
		require.NotEmpty(t, meta["cancel_date"])

		o.End()
		require.Equal(t, "ACTIVE", readRow(t, db, irn).State, "not stored during the outage")
		n, err := svc.SettlePending(t.Context())
		require.NoError(t, err)
		require.Equal(t, 1, n)
		require.Equal(t, "CANCELLED", readRow(t, db, irn).State)
	})
}

// A write that fails for a reason other than an outage (here a trigger refuses it) is an
// internal error that does not repeat the database's message, which may quote stored values.
// When the IRP had registered the document, the caller still learns its IRN and AckNo, and
// the registration is stored once writes work again.
func TestStoreFailureKeepsTheDatabaseMessageToTheLog(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := setup(t, db)
		const dbMessage = "row of 29AAACP7879D1Z0 refused"
		refuse := func() {
			stmts := []string{`CREATE TRIGGER refuse BEFORE UPDATE ON einvoice_documents
				BEGIN SELECT RAISE(ABORT, '` + dbMessage + `'); END`}
			if db.Dialect() == store.Postgres {
				stmts = []string{
					`CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$
					BEGIN RAISE EXCEPTION '` + dbMessage + `' USING ERRCODE = 'check_violation'; END $$`,
					`CREATE TRIGGER refuse BEFORE UPDATE ON einvoice_documents FOR EACH ROW EXECUTE FUNCTION refuse()`,
				}
			}
			for _, q := range stmts {
				_, err := db.ExecContext(t.Context(), q)
				require.NoError(t, err)
			}
		}
		svc := serviceOnAnswer(t, e, "/Invoice", refuse)

		_, err := svc.GenerateIrn(sellerContext(t), &einvoicev1.GenerateIrnRequest{Invoice: docJSON(t, invoiceMap(e.sb.Clock.Now(), "", 1))})
		require.Equal(t, codes.Internal, status.Code(err), "%v", err)
		require.NotContains(t, status.Convert(err).Message(), dbMessage)
		regs := e.sb.Registered()
		require.Len(t, regs, 1)
		info, _ := errorInfo(t, err)
		require.Equal(t, regs[0].Irn, info.GetMetadata()["irn"])
		require.Equal(t, strconv.FormatInt(regs[0].AckNo, 10), info.GetMetadata()["ack_no"])

		drop := `DROP TRIGGER refuse`
		if db.Dialect() == store.Postgres {
			drop += ` ON einvoice_documents`
		}
		_, err = db.ExecContext(t.Context(), drop)
		require.NoError(t, err)
		requireSettled(t, svc, db, regs[0])
	})
}
