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

// A registration the IRP made while the database went down is not lost: the caller learns
// its IRN and AckNo and is told to retry, and the background settling stores the IRP's
// signed answer once the database is back, without sending the document again.
func TestRegistrationIsStoredAfterADatabaseOutage(t *testing.T) {
	storetest.EachWithOutage(t, func(t *testing.T, db *store.DB, o storetest.Outage) {
		e := setup(t, db)
		svc := serviceOnAnswer(t, e, "/Invoice", o.Start)
		body := docJSON(t, invoiceMap(e.sb.Clock.Now(), "", 1))

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
