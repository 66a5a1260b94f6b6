package einvoice_test

import (
	"context"
	"os"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	einvoicev1 "github.com/irpgate/irpgate/gen/go/irpgate/einvoice/v1"
	"github.com/irpgate/irpgate/internal/store"
	"github.com/irpgate/irpgate/internal/store/storetest"
	"github.com/irpgate/irpgate/services/einvoice"
)

func withKey(ctx context.Context, key string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "idempotency-key", key)
}

func countKeys(t *testing.T, db *store.DB) int {
	t.Helper()
	var n int
	require.NoError(t, db.QueryRowContext(t.Context(), `SELECT COUNT(*) FROM einvoice_idempotency_keys`).Scan(&n))
	return n
}

func requireKeyReused(t *testing.T, err error) {
	t.Helper()
	require.Equal(t, codes.AlreadyExists, status.Code(err), "%v", err)
	info, _ := errorInfo(t, err)
	require.Equal(t, "ERROR_REASON_IDEMPOTENCY_KEY_REUSED", info.GetReason())
}

// An Idempotency-Key binds its body for IdempotencyTTL (24 hours by default); after that it
// counts as unused, and SweepIdempotencyKeys deletes only the expired keys.
func TestIdempotencyKeyExpires(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := setup(t, db)
		ctx := withKey(t.Context(), "k-ttl")
		now := e.sb.Clock.Now()
		a, b := invoiceMap(now, "", 1), invoiceMap(now, "", 2)

		first, err := e.client.GenerateIrn(ctx, &einvoicev1.GenerateIrnRequest{Invoice: docJSON(t, a)})
		require.NoError(t, err)
		_, err = e.client.GenerateIrn(withKey(t.Context(), "k-other"), &einvoicev1.GenerateIrnRequest{Invoice: docJSON(t, invoiceMap(now, "", 1))})
		require.NoError(t, err)

		_, err = e.client.GenerateIrn(ctx, &einvoicev1.GenerateIrnRequest{Invoice: docJSON(t, b)})
		requireKeyReused(t, err)
		e.sb.Clock.Advance(23 * time.Hour)
		_, err = e.client.GenerateIrn(ctx, &einvoicev1.GenerateIrnRequest{Invoice: docJSON(t, b)})
		requireKeyReused(t, err)
		require.Len(t, e.sb.Registered(), 2)

		n, err := e.svc.SweepIdempotencyKeys(t.Context())
		require.NoError(t, err)
		require.Zero(t, n, "no key has expired yet")
		require.Equal(t, 2, countKeys(t, db))

		e.sb.Clock.Advance(2 * time.Hour)
		second, err := e.client.GenerateIrn(ctx, &einvoicev1.GenerateIrnRequest{Invoice: docJSON(t, b)})
		require.NoError(t, err, "an expired key is taken as new")
		require.False(t, second.GetReplayed())
		require.NotEqual(t, first.GetDetails().GetIrn(), second.GetDetails().GetIrn())
		require.Len(t, e.sb.Registered(), 3)

		// The key now binds the new body.
		again, err := e.client.GenerateIrn(ctx, &einvoicev1.GenerateIrnRequest{Invoice: docJSON(t, b)})
		require.NoError(t, err)
		require.True(t, again.GetReplayed())
		require.Equal(t, second.GetDetails().GetIrn(), again.GetDetails().GetIrn())
		_, err = e.client.GenerateIrn(ctx, &einvoicev1.GenerateIrnRequest{Invoice: docJSON(t, a)})
		requireKeyReused(t, err)

		_, err = e.client.GenerateIrn(withKey(t.Context(), "k-new"), &einvoicev1.GenerateIrnRequest{Invoice: docJSON(t, invoiceMap(e.sb.Clock.Now(), "", 1))})
		require.NoError(t, err)
		require.Equal(t, 3, countKeys(t, db))

		n, err = e.svc.SweepIdempotencyKeys(t.Context())
		require.NoError(t, err)
		require.EqualValues(t, 1, n, "only k-other has expired")
		require.Equal(t, 2, countKeys(t, db))
		var left int
		require.NoError(t, db.QueryRowContext(t.Context(), `SELECT COUNT(*) FROM einvoice_idempotency_keys
			WHERE idem_key IN ('k-ttl', 'k-new')`).Scan(&left))
		require.Equal(t, 2, left)

		n, err = e.svc.SweepIdempotencyKeys(t.Context())
		require.NoError(t, err)
		require.Zero(t, n)
	})
}

func TestIdempotencyTTLIsConfigurable(t *testing.T) {
	e := setup(t, storetest.SQLite(t))
	_, client := e.service(t, func(c *einvoice.Config) { c.IdempotencyTTL = time.Hour })
	ctx := withKey(t.Context(), "k-1h")
	now := e.sb.Clock.Now()
	_, err := client.GenerateIrn(ctx, &einvoicev1.GenerateIrnRequest{Invoice: docJSON(t, invoiceMap(now, "", 1))})
	require.NoError(t, err)
	other := docJSON(t, invoiceMap(now, "", 1))
	e.sb.Clock.Advance(59 * time.Minute)
	_, err = client.GenerateIrn(ctx, &einvoicev1.GenerateIrnRequest{Invoice: other})
	requireKeyReused(t, err)
	e.sb.Clock.Advance(time.Minute)
	_, err = client.GenerateIrn(ctx, &einvoicev1.GenerateIrnRequest{Invoice: other})
	require.NoError(t, err)
	require.Len(t, e.sb.Registered(), 2)
}

// Run sweeps at once and then every SweepInterval, until its context ends.
func TestRunSweepsExpiredKeysUntilTheContextEnds(t *testing.T) {
	e := setup(t, storetest.SQLite(t))
	svc, client := e.service(t, func(c *einvoice.Config) { c.SweepInterval = time.Millisecond })
	generate := func(key string) {
		_, err := client.GenerateIrn(withKey(t.Context(), key), &einvoicev1.GenerateIrnRequest{Invoice: docJSON(t, invoiceMap(e.sb.Clock.Now(), "", 1))})
		require.NoError(t, err)
	}
	generate("k-1")
	e.sb.Clock.Advance(25 * time.Hour)
	generate("k-2")

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	require.Eventually(t, func() bool { return countKeys(t, e.db) == 1 }, 10*time.Second, time.Millisecond)

	e.sb.Clock.Advance(25 * time.Hour)
	require.Eventually(t, func() bool { return countKeys(t, e.db) == 0 }, 10*time.Second, time.Millisecond)

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return when its context ended")
	}
}

// Keys stored before migration 0002 are dated from their created_at text.
func TestMigrationDatesExistingKeys(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		first, err := os.ReadFile("migrations/0001_documents.sql")
		require.NoError(t, err)
		require.NoError(t, db.Migrate(ctx, "einvoice", fstest.MapFS{"0001_documents.sql": {Data: first}}))
		created := time.Date(2025, 3, 4, 5, 6, 7, 891_000_000, time.UTC)
		_, err = db.ExecContext(ctx, `INSERT INTO einvoice_idempotency_keys (idem_key, body_sha256, seller_gstin, fy,
			doc_type, doc_no, created_at) VALUES ('old', 'x', $1, '2024-25', 'INV', 'A1', $2)`,
			seller, created.Format(time.RFC3339Nano))
		require.NoError(t, err)

		e := setup(t, db) // runs the remaining migrations
		var ms int64
		require.NoError(t, db.QueryRowContext(ctx, `SELECT created_unix_ms FROM einvoice_idempotency_keys
			WHERE idem_key = 'old'`).Scan(&ms))
		require.InDelta(t, created.UnixMilli(), ms, 1000, "to the second at least")
		n, err := e.svc.SweepIdempotencyKeys(ctx)
		require.NoError(t, err)
		require.EqualValues(t, 1, n, "a key of 2025 has expired")
	})
}
