package einvoice_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	einvoicev1 "github.com/irpgate/irpgate/gen/go/irpgate/einvoice/v1"
	"github.com/irpgate/irpgate/internal/store"
	"github.com/irpgate/irpgate/internal/store/storetest"
	"github.com/irpgate/irpgate/pkg/irpclient"
)

// A cancellation made at the IRP outside irpgate (the NIC portal) is not in the store, so a
// plain GetIrn answers ACT; GetIrn with refresh asks the IRP, stores the cancellation and
// answers CNL, and a CancelIrn after it answers from the store without calling the IRP.
func TestGetIrnRefreshStoresACancellationMadeElsewhere(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := setup(t, db)
		ctx := t.Context()
		inv := invoiceMap(e.sb.Clock.Now(), "R/1", 1)
		res, err := e.client.GenerateIrn(ctx, &einvoicev1.GenerateIrnRequest{Invoice: docJSON(t, inv)})
		require.NoError(t, err)
		irn := res.GetDetails().GetIrn()
		byDoc := &einvoicev1.GetIrnByDocumentRequest{Gstin: seller, DocType: "INV", DocNo: "R/1", DocDate: inv["DocDtls"].(map[string]any)["Dt"].(string)}

		got, err := e.client.GetIrn(ctx, &einvoicev1.GetIrnRequest{Irn: irn, Refresh: true})
		require.NoError(t, err)
		require.True(t, got.GetRefreshed())
		require.Equal(t, "ACT", got.GetDetails().GetStatus(), "nothing happened at the IRP")

		_, err = e.irp.CancelIRN(ctx, seller, irpclient.CancelIRNRequest{Irn: irn, CnlRsn: "1", CnlRem: "on the portal"})
		require.NoError(t, err)
		got, err = e.client.GetIrn(ctx, &einvoicev1.GetIrnRequest{Irn: irn})
		require.NoError(t, err)
		require.Equal(t, "ACT", got.GetDetails().GetStatus(), "the store has not heard of it")
		require.False(t, got.GetRefreshed())

		doc, err := e.client.GetIrnByDocument(ctx, byDoc)
		require.NoError(t, err)
		require.Equal(t, "ACT", doc.GetDetails().GetStatus())

		byDoc.Refresh = true // by document as by IRN
		doc, err = e.client.GetIrnByDocument(ctx, byDoc)
		require.NoError(t, err)
		require.True(t, doc.GetRefreshed())
		require.Equal(t, "CNL", doc.GetDetails().GetStatus())
		require.Equal(t, "CANCELLED", readRow(t, db, irn).State)
		got, err = e.client.GetIrn(ctx, &einvoicev1.GetIrnRequest{Irn: irn, Refresh: true})
		require.NoError(t, err)
		require.True(t, got.GetRefreshed())
		require.Equal(t, "CNL", got.GetDetails().GetStatus())

		calls := e.sb.Stats().CancelCalls
		cnl, err := e.client.CancelIrn(ctx, &einvoicev1.CancelIrnRequest{Irn: irn, CnlRsn: "1", CnlRem: "again"})
		require.NoError(t, err)
		require.True(t, cnl.GetAlreadyCancelled())
		require.Equal(t, calls, e.sb.Stats().CancelCalls, "answered from the store")
	})
}

// Past the IRP's retention window a refresh answers the stored registration and says the
// IRP did not answer for it.
func TestGetIrnRefreshPastTheIRPsRetention(t *testing.T) {
	e := setup(t, storetest.SQLite(t))
	ctx := t.Context()
	res, err := e.client.GenerateIrn(ctx, &einvoicev1.GenerateIrnRequest{Invoice: docJSON(t, invoiceMap(e.sb.Clock.Now(), "", 1))})
	require.NoError(t, err)
	irn := res.GetDetails().GetIrn()
	e.sb.Clock.Advance(3 * 24 * time.Hour)

	got, err := e.client.GetIrn(ctx, &einvoicev1.GetIrnRequest{Irn: irn, Refresh: true})
	require.NoError(t, err)
	require.False(t, got.GetRefreshed())
	require.Equal(t, res.GetDetails().GetAckNo(), got.GetDetails().GetAckNo())
	require.Equal(t, "ACT", got.GetDetails().GetStatus())
}
