package store_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/irpgate/irpgate/internal/store"
	"github.com/irpgate/irpgate/internal/store/storetest"
)

// A backup taken while a writer commits row after row is one snapshot: it holds the
// first n rows for an n between the rows committed when the backup started and when it
// ended, none missing, and passes SQLite's integrity check.
func TestSQLite_BackupWhileWriting(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db, err := store.Open(ctx, store.Config{DataDir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	withInvoices(t, db)

	var committed atomic.Int64
	wctx, stop := context.WithCancel(ctx)
	writerDone := make(chan error, 1)
	go func() {
		for i := 0; ; i++ {
			_, err := db.ExecContext(wctx, `INSERT INTO invoices (gstin, doc_no, irn) VALUES ($1, $2, $3)`,
				"g", fmt.Sprintf("N/%06d", i), fmt.Sprintf("irn-%d", i))
			if wctx.Err() != nil {
				writerDone <- nil
				return
			}
			if err != nil {
				writerDone <- err
				return
			}
			committed.Add(1)
		}
	}()
	require.Eventually(t, func() bool { return committed.Load() >= 200 }, 10*time.Second, time.Millisecond)

	path := filepath.Join(t.TempDir(), "copy.db")
	before := committed.Load()
	require.NoError(t, db.Backup(ctx, path))
	after := committed.Load()
	stop()
	require.NoError(t, <-writerDone)

	cp, err := store.Open(ctx, store.Config{URL: "sqlite:" + path})
	require.NoError(t, err)
	defer cp.Close()
	var check string
	require.NoError(t, cp.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&check))
	require.Equal(t, "ok", check)
	var n int64
	var last string
	require.NoError(t, cp.QueryRowContext(ctx, `SELECT COUNT(*), MAX(doc_no) FROM invoices`).Scan(&n, &last))
	require.GreaterOrEqual(t, n, before, "rows committed before the backup started")
	require.LessOrEqual(t, n, after+1, "rows committed by the time it ended (one more may commit as the count is read)")
	require.Equal(t, fmt.Sprintf("N/%06d", n-1), last, "the first n rows, none missing")
	require.Greater(t, countInvoices(t, db), int(n)-1, "the original is untouched")
}

func TestBackup_Refuses(t *testing.T) {
	t.Parallel()
	db := storetest.SQLite(t)
	path := filepath.Join(t.TempDir(), "copy.db")
	require.NoError(t, os.WriteFile(path, []byte("keep me"), 0o600))
	err := db.Backup(t.Context(), path)
	require.ErrorContains(t, err, "already exists")
	raw, rerr := os.ReadFile(path)
	require.NoError(t, rerr)
	require.Equal(t, "keep me", string(raw), "a file already there is not overwritten")

	pg := storetest.Postgres(t)
	require.ErrorIs(t, pg.Backup(t.Context(), filepath.Join(t.TempDir(), "pg.db")), store.ErrBackupUnsupported)
}
