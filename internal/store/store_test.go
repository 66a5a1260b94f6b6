package store_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/irpgate/irpgate/internal/store"
	"github.com/irpgate/irpgate/internal/store/storetest"
)

func withInvoices(t *testing.T, db *store.DB) {
	t.Helper()
	require.NoError(t, db.Migrate(t.Context(), "einvoice", invoiceMigrations()))
}

func countInvoices(t *testing.T, q store.Querier) int {
	t.Helper()
	var n int
	require.NoError(t, q.QueryRowContext(t.Context(), `SELECT COUNT(*) FROM invoices`).Scan(&n))
	return n
}

func TestDollarPlaceholdersBindByPosition(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		var a, b, again string
		require.NoError(t, db.QueryRowContext(t.Context(),
			`SELECT CAST($2 AS TEXT), CAST($1 AS TEXT), CAST($2 AS TEXT)`, "first", "second").Scan(&a, &b, &again))
		require.Equal(t, []string{"second", "first", "second"}, []string{a, b, again})
	})
}

func TestIsUniqueViolation_DuplicateDocument(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		withInvoices(t, db)
		ctx := t.Context()
		insert := `INSERT INTO invoices (gstin, doc_no) VALUES ($1, $2)`
		_, err := db.ExecContext(ctx, insert, "29AAACI1681G1ZS", "INV/1")
		require.NoError(t, err)
		require.False(t, store.IsUniqueViolation(err))

		_, err = db.ExecContext(ctx, insert, "29AAACI1681G1ZS", "INV/1")
		require.Error(t, err)
		require.True(t, store.IsUniqueViolation(fmt.Errorf("save invoice: %w", err)), "got %v", err)

		_, err = db.ExecContext(ctx, `INSERT INTO invoices (gstin) VALUES ($1)`, "x")
		require.Error(t, err, "NOT NULL violation")
		require.False(t, store.IsUniqueViolation(err), "a NOT NULL violation is not a duplicate")
		require.False(t, store.IsUniqueViolation(errors.New("duplicate")))
		require.False(t, store.IsUniqueViolation(nil))
	})
}

func TestIsForeignKeyViolation_ForeignKeysEnforced(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		require.NoError(t, db.Migrate(t.Context(), "fk", fstest.MapFS{
			"0001_parent_child.sql": {Data: []byte(`
CREATE TABLE parent (id INTEGER PRIMARY KEY);
CREATE TABLE child (parent_id INTEGER NOT NULL REFERENCES parent (id));`)},
		}))
		_, err := db.ExecContext(t.Context(), `INSERT INTO child (parent_id) VALUES ($1)`, 42)
		require.Error(t, err)
		require.True(t, store.IsForeignKeyViolation(err), "got %v", err)
		require.False(t, store.IsUniqueViolation(err))
	})
}

func TestRowScan_NoRowIsErrNotFound(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		withInvoices(t, db)
		var irn string
		err := db.QueryRowContext(t.Context(), `SELECT irn FROM invoices WHERE doc_no = $1`, "missing").Scan(&irn)
		require.ErrorIs(t, err, store.ErrNotFound)
		require.ErrorIs(t, err, sql.ErrNoRows, "ErrNotFound must keep the database/sql convention")
		require.True(t, store.IsNotFound(fmt.Errorf("get invoice: %w", err)))
	})
}

// A statement whose caller has gone away is not started, on either database: SQLite
// runs a statement without the context's cancellation (statementContext), so the check
// before it starts is what keeps a cancelled request from writing.
func TestStatementOnDoneContextDoesNotRun(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		withInvoices(t, db)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, err := db.ExecContext(ctx, `INSERT INTO invoices (gstin, doc_no) VALUES ($1, $2)`, "29AAACI1681G1ZS", "INV/1")
		require.ErrorIs(t, err, context.Canceled)
		var n int
		require.ErrorIs(t, db.QueryRowContext(ctx, `SELECT COUNT(*) FROM invoices`).Scan(&n), context.Canceled)
		require.Zero(t, countInvoices(t, db))
	})
}

// A write waiting for SQLite's one write connection gives up when its caller's deadline
// passes, though the statement itself would run without the context (statementContext),
// and it writes nothing afterwards.
func TestWriteWaitEndsWithTheCallersDeadline(t *testing.T) {
	t.Parallel()
	db := storetest.SQLite(t)
	withInvoices(t, db)
	inTx, release := make(chan struct{}), make(chan struct{})
	txDone := make(chan error, 1)
	go func() {
		txDone <- db.InTx(t.Context(), func(tx *store.Tx) error {
			_, err := tx.ExecContext(t.Context(), `INSERT INTO invoices (gstin, doc_no) VALUES ($1, $2)`, "29AAACI1681G1ZS", "INV/1")
			close(inTx)
			<-release
			return err
		})
	}()
	<-inTx

	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	execDone := make(chan error, 1)
	go func() {
		_, err := db.ExecContext(ctx, `INSERT INTO invoices (gstin, doc_no) VALUES ($1, $2)`, "29AAACI1681G1ZS", "INV/2")
		execDone <- err
	}()
	select {
	case err := <-execDone:
		require.ErrorIs(t, err, context.DeadlineExceeded)
	case <-time.After(10 * time.Second):
		close(release)
		t.Fatal("the write still waited for the connection 10 s after its 50 ms deadline")
	}
	close(release)
	require.NoError(t, <-txDone)
	require.Equal(t, 1, countInvoices(t, db), "only the transaction's row")
}

// A read waiting for one of SQLite's read connections, all held by readers that have not
// finished, gives up when its caller's deadline passes.
func TestReadWaitEndsWithTheCallersDeadline(t *testing.T) {
	t.Parallel()
	db := storetest.SQLite(t)
	withInvoices(t, db)
	_, err := db.ExecContext(t.Context(), `INSERT INTO invoices (gstin, doc_no) VALUES ($1, $2)`, "29AAACI1681G1ZS", "INV/1")
	require.NoError(t, err)
	// Readers that stop half-way hold their connections: every one of the read pool's.
	for range 8 {
		rows, err := db.QueryContext(t.Context(), `SELECT doc_no FROM invoices`)
		require.NoError(t, err)
		t.Cleanup(func() { _ = rows.Close() })
		require.True(t, rows.Next())
		require.NoError(t, rows.Err())
	}

	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	readDone := make(chan error, 1)
	go func() {
		var n int
		readDone <- db.QueryRowContext(ctx, `SELECT COUNT(*) FROM invoices`).Scan(&n)
	}()
	select {
	case err := <-readDone:
		require.ErrorIs(t, err, context.DeadlineExceeded)
	case <-time.After(10 * time.Second):
		t.Fatal("the read still waited for a connection 10 s after its 50 ms deadline")
	}
}

func TestInTx(t *testing.T) {
	t.Parallel()
	errRefused := errors.New("refused")
	tests := []struct {
		name      string
		fn        func(tx *store.Tx) error
		wantErr   error
		wantPanic bool
		wantRows  int
	}{
		{name: "commits when fn returns nil", wantRows: 2, fn: func(*store.Tx) error { return nil }},
		{name: "rolls back when fn returns an error", wantRows: 0, wantErr: errRefused, fn: func(*store.Tx) error { return errRefused }},
		{name: "rolls back when fn panics", wantRows: 0, wantPanic: true, fn: func(*store.Tx) error { panic("boom") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			storetest.Each(t, func(t *testing.T, db *store.DB) {
				t.Parallel()
				withInvoices(t, db)
				ctx := t.Context()
				run := func() error {
					return db.InTx(ctx, func(tx *store.Tx) error {
						for _, doc := range []string{"INV/1", "INV/2"} {
							if _, err := tx.ExecContext(ctx,
								`INSERT INTO invoices (gstin, doc_no) VALUES ($1, $2)`, "g", doc); err != nil {
								return err
							}
						}
						require.Equal(t, 2, countInvoices(t, tx), "the transaction sees its own writes")
						return tt.fn(tx)
					})
				}
				if tt.wantPanic {
					require.Panics(t, func() { _ = run() })
				} else {
					err := run()
					if tt.wantErr != nil {
						require.ErrorIs(t, err, tt.wantErr)
					} else {
						require.NoError(t, err)
					}
				}
				require.Equal(t, tt.wantRows, countInvoices(t, db))
			})
		})
	}
}

// Many goroutines writing at once must all succeed: SQLite allows one writer, so the store
// queues them instead of failing with SQLITE_BUSY.
func TestConcurrentWriters(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		withInvoices(t, db)
		ctx := t.Context()
		const writers = 50
		errs := make(chan error, 3*writers)
		var wg sync.WaitGroup
		for i := range writers {
			wg.Go(func() {
				_, err := db.ExecContext(ctx, `INSERT INTO invoices (gstin, doc_no) VALUES ($1, $2)`, "g", fmt.Sprintf("E/%d", i))
				errs <- err
			})
			wg.Go(func() {
				errs <- db.InTx(ctx, func(tx *store.Tx) error {
					var n int
					if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM invoices`).Scan(&n); err != nil {
						return err
					}
					_, err := tx.ExecContext(ctx, `INSERT INTO invoices (gstin, doc_no, irn) VALUES ($1, $2, $3)`,
						"g", fmt.Sprintf("T/%d", i), fmt.Sprint(n))
					return err
				})
			})
			wg.Go(func() {
				var n int
				errs <- db.QueryRowContext(ctx, `SELECT COUNT(*) FROM invoices`).Scan(&n)
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		require.Equal(t, 2*writers, countInvoices(t, db))
	})
}

// Two handles on one SQLite file stand for two processes sharing a data directory: the busy
// timeout, not the in-process write queue, has to make them wait for each other.
func TestSQLite_TwoHandlesOnOneFileWriteConcurrently(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := t.Context()
	var dbs []*store.DB
	for range 2 {
		db, err := store.Open(ctx, store.Config{DataDir: dir})
		require.NoError(t, err)
		t.Cleanup(func() { _ = db.Close() })
		dbs = append(dbs, db)
	}
	withInvoices(t, dbs[0])
	withInvoices(t, dbs[1])

	const writers = 25
	errs := make(chan error, 2*writers)
	var wg sync.WaitGroup
	for h, db := range dbs {
		for i := range writers {
			wg.Go(func() {
				errs <- db.InTx(ctx, func(tx *store.Tx) error {
					_, err := tx.ExecContext(ctx, `INSERT INTO invoices (gstin, doc_no) VALUES ($1, $2)`,
						"g", fmt.Sprintf("%d/%d", h, i))
					return err
				})
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Equal(t, 2*writers, countInvoices(t, dbs[0]))
}

func TestSQLite_ConnectionSettings(t *testing.T) {
	t.Parallel()
	db := storetest.SQLite(t)
	ctx := t.Context()
	tests := []struct {
		pragma string
		want   string
	}{
		{"journal_mode", "wal"},
		{"foreign_keys", "1"},
		{"synchronous", "1"}, // NORMAL
		{"busy_timeout", "10000"},
	}
	for _, tt := range tests {
		t.Run(tt.pragma, func(t *testing.T) {
			for _, q := range []string{"PRAGMA " + tt.pragma, "SELECT * FROM pragma_" + tt.pragma + "()"} {
				var got string
				require.NoError(t, db.QueryRowContext(ctx, q).Scan(&got), q)
				require.Equal(t, tt.want, strings.ToLower(got), q)
			}
		})
	}
}

func TestOpen_SQLiteLocations(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := []struct {
		name     string
		cfg      store.Config
		wantFile string
	}{
		{name: "default file in data dir", cfg: store.Config{DataDir: filepath.Join(dir, "a", "nested")}, wantFile: filepath.Join(dir, "a", "nested", "irpgate.db")},
		{name: "sqlite URL", cfg: store.Config{URL: "sqlite:" + filepath.Join(dir, "b.db")}, wantFile: filepath.Join(dir, "b.db")},
		{name: "sqlite URL with slashes", cfg: store.Config{URL: "sqlite://" + filepath.Join(dir, "c.db")}, wantFile: filepath.Join(dir, "c.db")},
		{name: "file URL with parameters", cfg: store.Config{URL: "file:" + filepath.Join(dir, "d.db") + "?_pragma=busy_timeout(2000)"}, wantFile: filepath.Join(dir, "d.db")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			db, err := store.Open(t.Context(), tt.cfg)
			require.NoError(t, err)
			t.Cleanup(func() { _ = db.Close() })
			require.Equal(t, store.SQLite, db.Dialect())
			var file string
			require.NoError(t, db.QueryRowContext(t.Context(), `SELECT file FROM pragma_database_list WHERE name = 'main'`).Scan(&file))
			require.Equal(t, tt.wantFile, file)
		})
	}
}

func TestOpen_InMemorySQLite(t *testing.T) {
	t.Parallel()
	db, err := store.Open(t.Context(), store.Config{URL: "sqlite::memory:"})
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	withInvoices(t, db)
	require.Equal(t, 0, countInvoices(t, db), "reads and writes must see the same in-memory database")
}

func TestOpen_Refuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cfg     store.Config
		wantErr string
	}{
		{name: "nothing configured", cfg: store.Config{}, wantErr: "neither URL nor DataDir"},
		{name: "unknown scheme", cfg: store.Config{URL: "mysql://u:hunter2@h/db"}, wantErr: "unsupported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := store.Open(t.Context(), tt.cfg)
			require.ErrorContains(t, err, tt.wantErr)
			require.NotContains(t, err.Error(), "hunter2")
		})
	}
}

func TestOpen_PostgresErrorHidesPassword(t *testing.T) {
	t.Parallel()
	// Nothing listens on port 1; the error must still not show the password.
	_, err := store.Open(t.Context(), store.Config{URL: "postgres://irp:s3cr3t-pw@127.0.0.1:1/irp?sslmode=disable&connect_timeout=2"})
	require.Error(t, err)
	require.NotContains(t, err.Error(), "s3cr3t-pw")
	require.Contains(t, err.Error(), "127.0.0.1:1")
}

func TestRedact(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
	}{
		{"password in user info", "postgres://irp:s3cr3t@db:5432/irp", "postgres://irp:xxxxx@db:5432/irp"},
		{"password in query", "postgres://irp@db/irp?password=s3cr3t&sslmode=disable", "postgres://irp@db/irp?password=xxxxx&sslmode=disable"},
		{"no password", "postgres://irp@db/irp", "postgres://irp@db/irp"},
		{"unparseable", "postgres://irp:s3cr3t@db:port/%zz", "<unparseable database URL>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, store.Redact(tt.in))
		})
	}
}

// Statements are reused from the statement cache, inside and outside transactions, with
// the same results; a script of several statements runs every one of them each time.
func TestStatementsRunTheSameWhenReused(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		withInvoices(t, db)
		ctx := t.Context()
		insert := `INSERT INTO invoices (gstin, doc_no) VALUES ($1, $2)`
		for i := range 3 {
			require.NoError(t, db.InTx(ctx, func(tx *store.Tx) error {
				_, err := tx.ExecContext(ctx, insert, "29AAACI1681G1ZS", fmt.Sprintf("TX/%d", i))
				return err
			}))
			_, err := db.ExecContext(ctx, insert, "29AAACI1681G1ZS", fmt.Sprintf("DB/%d", i))
			require.NoError(t, err)
			var n int
			require.NoError(t, db.QueryRowContext(ctx, `SELECT COUNT(*) FROM invoices WHERE doc_no LIKE $1`, "TX/%").Scan(&n))
			require.Equal(t, i+1, n)
		}
		require.Equal(t, 6, countInvoices(t, db))

		script := `INSERT INTO invoices (gstin, doc_no) VALUES ('29AAACI1681G1ZS', 'S/1');
			INSERT INTO invoices (gstin, doc_no) VALUES ('29AAACI1681G1ZS', 'S/2');
			DELETE FROM invoices WHERE doc_no LIKE 'S/%';`
		for range 2 {
			_, err := db.ExecContext(ctx, `DELETE FROM invoices WHERE doc_no LIKE 'S/%'`)
			require.NoError(t, err)
			_, err = db.ExecContext(ctx, script)
			require.NoError(t, err)
			require.Equal(t, 6, countInvoices(t, db), "all three statements ran")
		}

		_, err := db.ExecContext(ctx, `INSERT INTO no_such_table VALUES ($1)`, 1)
		require.Error(t, err, "a statement that does not prepare fails like one that does not run")
		require.Error(t, db.QueryRowContext(ctx, `SELECT nope FROM invoices`).Scan(new(int)))
	})
}

// On SQLite a background checkpointer moves the write-ahead log into the database file (no
// commit pays for it): the file grows while nothing but commits happen. SQLite's own
// checkpoint would wait for 1000 pages, more than this test writes.
func TestSQLite_BackgroundCheckpoint(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db, err := store.Open(t.Context(), store.Config{DataDir: dir, CheckpointInterval: 5 * time.Millisecond})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, db.Close()) })
	var auto int
	require.NoError(t, db.QueryRowContext(t.Context(), "PRAGMA wal_autocheckpoint").Scan(&auto))
	require.Zero(t, auto, "commits do not checkpoint")

	file := filepath.Join(dir, store.DefaultFileName)
	size := func() int64 {
		st, err := os.Stat(file)
		require.NoError(t, err)
		return st.Size()
	}
	_, err = db.ExecContext(t.Context(), `CREATE TABLE blobs (id INTEGER PRIMARY KEY, body TEXT NOT NULL)`)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return size() > 0 }, 10*time.Second, 5*time.Millisecond)
	before := size()
	for i := range 200 {
		_, err := db.ExecContext(t.Context(), `INSERT INTO blobs (id, body) VALUES ($1, $2)`, i, strings.Repeat("x", 4000))
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool { return size() >= before+200*4000 }, 10*time.Second, 5*time.Millisecond,
		"the rows reach the database file")
}

// A URL that sets wal_autocheckpoint keeps SQLite's own checkpoints.
func TestSQLite_AutocheckpointFromURL(t *testing.T) {
	t.Parallel()
	db, err := store.Open(t.Context(), store.Config{URL: "sqlite:" + filepath.Join(t.TempDir(), "x.db") + "?_pragma=wal_autocheckpoint(500)"})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, db.Close()) })
	var auto int
	require.NoError(t, db.QueryRowContext(t.Context(), "PRAGMA wal_autocheckpoint").Scan(&auto))
	require.Equal(t, 500, auto)
}

// A URL that sets synchronous keeps it on every connection, writer and readers: FULL makes
// each commit durable against a machine crash, not only a process crash (decisions §9).
func TestSQLite_SynchronousFromURL(t *testing.T) {
	t.Parallel()
	db, err := store.Open(t.Context(), store.Config{URL: "sqlite:" + filepath.Join(t.TempDir(), "x.db") + "?_pragma=synchronous(FULL)"})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, db.Close()) })
	for _, q := range []string{"PRAGMA synchronous", "SELECT * FROM pragma_synchronous()"} {
		var got int
		require.NoError(t, db.QueryRowContext(t.Context(), q).Scan(&got), q)
		require.Equal(t, 2, got, q) // FULL
	}
}

// A database that cannot take a statement now (PostgreSQL unreachable, SQLite's write lock
// held elsewhere) is told apart from a statement that is wrong, and writes work again after.
func TestIsUnavailable_Outage(t *testing.T) {
	t.Parallel()
	storetest.EachWithOutage(t, func(t *testing.T, db *store.DB, o storetest.Outage) {
		t.Parallel()
		withInvoices(t, db)
		ctx := t.Context()
		insert := `INSERT INTO invoices (gstin, doc_no) VALUES ($1, $2)`
		_, err := db.ExecContext(ctx, insert, "29AAACI1681G1ZS", "INV/1")
		require.NoError(t, err)
		_, err = db.ExecContext(ctx, insert, "29AAACI1681G1ZS", "INV/1")
		require.True(t, store.IsUniqueViolation(err))
		require.False(t, store.IsUnavailable(err), "a duplicate is not an outage")
		require.False(t, store.IsUnavailable(store.ErrNotFound))
		require.False(t, store.IsUnavailable(nil))

		o.Start()
		_, err = db.ExecContext(ctx, insert, "29AAACI1681G1ZS", "INV/2")
		require.Error(t, err)
		require.True(t, store.IsUnavailable(fmt.Errorf("save invoice: %w", err)), "got %v", err)
		err = db.InTx(ctx, func(tx *store.Tx) error {
			_, err := tx.ExecContext(ctx, insert, "29AAACI1681G1ZS", "INV/2")
			return err
		})
		require.True(t, store.IsUnavailable(err), "got %v", err)

		o.End()
		_, err = db.ExecContext(ctx, insert, "29AAACI1681G1ZS", "INV/2")
		require.NoError(t, err)
		require.Equal(t, 2, countInvoices(t, db))
	})
}

// A full disk is an outage too: the write fails as unavailable, what was stored stays as it
// was and readable, and writes work again once there is room.
func TestIsUnavailable_FullDisk(t *testing.T) {
	t.Parallel()
	storetest.EachWithFullDisk(t, func(t *testing.T, db *store.DB, o storetest.Outage) {
		t.Parallel()
		withInvoices(t, db)
		ctx := t.Context()
		insert := `INSERT INTO invoices (gstin, doc_no, irn) VALUES ($1, $2, $3)`
		big := strings.Repeat("x", 20_000) // more than the pages there are: it must grow the file
		_, err := db.ExecContext(ctx, insert, "29AAACI1681G1ZS", "INV/1", "a")
		require.NoError(t, err)

		o.Start()
		_, err = db.ExecContext(ctx, insert, "29AAACI1681G1ZS", "INV/2", big)
		require.Error(t, err)
		require.True(t, store.IsUnavailable(fmt.Errorf("save invoice: %w", err)), "got %v", err)
		require.Equal(t, 1, countInvoices(t, db), "reads work, and nothing half-written")

		o.End()
		_, err = db.ExecContext(ctx, insert, "29AAACI1681G1ZS", "INV/2", big)
		require.NoError(t, err)
		require.Equal(t, 2, countInvoices(t, db))
	})
}
