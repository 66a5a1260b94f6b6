package einvoice

import (
	"fmt"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/irpgate/irpgate/internal/store"
	doc "github.com/irpgate/irpgate/pkg/einvoice"
	"github.com/irpgate/irpgate/pkg/irpclient"
)

// The signed answer is stored on the pending row; when the IRP names another IRN than the
// one computed for the document, the row takes the IRP's (and is found by it).
func TestWriteTakesTheIRPsIRN(t *testing.T) {
	d := newTestDocuments(t)
	ctx := t.Context()
	for _, tc := range []struct{ name, computed, fromIRP string }{
		{"same", strings.Repeat("a", 64), strings.Repeat("a", 64)},
		{"different", strings.Repeat("b", 64), strings.Repeat("c", 64)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := doc.DocKey{SellerGSTIN: "29AAACP7879D1Z0", FY: "2026-27", DocType: "INV", DocNo: "W-" + tc.name}
			existing, claimed, err := d.claimPending(ctx, &record{
				Key: k, DocDate: "21/11/2026", IRN: tc.computed, IRP: "NIC1",
				BuyerGSTIN: "27AAAPI3182M002", TotInvVal: 210, BodySHA256: "x", RequestJSON: "{}", State: statePending,
			}, false)
			require.NoError(t, err)
			require.Nil(t, existing)
			require.True(t, claimed)
			require.NoError(t, d.complete(ctx, k, &irpclient.IRNDetails{
				Irn: tc.fromIRP, AckNo: 1, AckDt: "2026-11-21 10:00:00",
				SignedInvoice: "si", SignedQRCode: "qr",
			}, stateActive))
			got, err := d.byKey(ctx, d.db, k)
			require.NoError(t, err)
			require.Equal(t, tc.fromIRP, got.IRN)
			require.Equal(t, stateActive, got.State)
			require.Equal(t, "si", got.SignedInvoice)
			byIRN, err := d.byIRN(ctx, tc.fromIRP)
			require.NoError(t, err)
			require.Equal(t, k, byIRN.Key)
		})
	}
}

func newTestDocuments(t testing.TB) *documents {
	t.Helper()
	db, err := store.Open(t.Context(), store.Config{DataDir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	sub, err := fs.Sub(migrationFiles, "migrations")
	require.NoError(t, err)
	require.NoError(t, db.Migrate(t.Context(), "einvoice", sub))
	return &documents{db: db, now: time.Now, keyTTL: time.Hour}
}

// ListIrns reads a seller's registrations through their AckDt index, in its order, with
// every filter: the index holds only rows with an AckDt (migration 0004), so a query
// that stopped saying so would scan the table and sort it instead.
func TestListUsesTheAckDateIndex(t *testing.T) {
	d := newTestDocuments(t)
	for name, q := range map[string]*listQuery{
		"first page": {gstin: "29AAACP7879D1Z0", states: []string{stateActive, stateCancelled}, size: 100},
		"every filter, a later page": {
			gstin: "29AAACP7879D1Z0", states: []string{stateActive}, size: 100,
			from: "2026-11-01 00:00:00", to: "2026-11-21 23:59:59", buyer: "27AAAPI3182M002", docType: "INV",
			openSince: "2026-11-20 10:00:00", after: &pageToken{AckDt: "2026-11-21 10:00:00", IRN: strings.Repeat("a", 64)},
		},
	} {
		t.Run(name, func(t *testing.T) {
			query, args := listSQL(q)
			rows, err := d.db.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+query, args...)
			require.NoError(t, err)
			defer rows.Close()
			var plan []string
			for rows.Next() {
				var id, parent, unused int
				var detail string
				require.NoError(t, rows.Scan(&id, &parent, &unused, &detail))
				plan = append(plan, detail)
			}
			require.NoError(t, rows.Err())
			require.Len(t, plan, 1, "one search, no sort: %q", plan)
			require.Contains(t, plan[0], "USING INDEX einvoice_documents_seller_ack")
		})
	}
}

// BenchmarkStoreRegistration is the storage of one registration on SQLite, as GenerateIrn
// does it: the pending row (with a 1.2 KB request) before the IRP call, then the signed
// answer (a 3.5 KB SignedInvoice and a 1 KB SignedQRCode).
func BenchmarkStoreRegistration(b *testing.B) {
	ctx := b.Context()
	d := newTestDocuments(b)
	req := strings.Repeat("r", 1200)
	det := &irpclient.IRNDetails{
		AckNo: 112010000002315, AckDt: "2026-11-21 10:00:00",
		SignedInvoice: strings.Repeat("s", 3500), SignedQRCode: strings.Repeat("q", 1000),
	}
	i := 0
	for b.Loop() {
		i++
		k := doc.DocKey{SellerGSTIN: "29AAACP7879D1Z0", FY: "2026-27", DocType: "INV", DocNo: fmt.Sprintf("B%d", i)}
		irn := fmt.Sprintf("%064d", i)
		r := &record{
			Key: k, DocDate: "21/11/2026", IRN: irn, IRP: "NIC1", BuyerGSTIN: "27AAAPI3182M002",
			TotInvVal: 210, BodySHA256: irn, RequestJSON: req, State: statePending,
		}
		if _, _, err := d.claimPending(ctx, r, false); err != nil {
			b.Fatal(err)
		}
		det.Irn = irn
		if err := d.complete(ctx, k, det, stateActive); err != nil {
			b.Fatal(err)
		}
	}
}
