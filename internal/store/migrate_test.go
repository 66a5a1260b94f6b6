package store_test

import (
	"sync"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/require"

	"github.com/irpgate/irpgate/internal/store"
	"github.com/irpgate/irpgate/internal/store/storetest"
)

func invoiceMigrations() fstest.MapFS {
	return fstest.MapFS{
		"0001_create_invoices.sql": {Data: []byte(`
CREATE TABLE invoices (
	gstin  TEXT NOT NULL,
	doc_no TEXT NOT NULL,
	irn    TEXT,
	PRIMARY KEY (gstin, doc_no)
);`)},
		"0002_add_ack.sql": {Data: []byte(`
ALTER TABLE invoices ADD COLUMN ack_no TEXT;
CREATE INDEX invoices_irn ON invoices (irn);`)},
		"README.md": {Data: []byte("not a migration")},
	}
}

func appliedVersions(t *testing.T, db *store.DB, service string) []int {
	t.Helper()
	rows, err := db.QueryContext(t.Context(),
		`SELECT version FROM schema_migrations WHERE service = $1 ORDER BY version`, service)
	require.NoError(t, err)
	defer rows.Close()
	var out []int
	for rows.Next() {
		var v int
		require.NoError(t, rows.Scan(&v))
		out = append(out, v)
	}
	require.NoError(t, rows.Err())
	return out
}

func TestMigrate_AppliesInOrderOnce(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		ctx := t.Context()
		require.NoError(t, db.Migrate(ctx, "einvoice", invoiceMigrations()))
		require.Equal(t, []int{1, 2}, appliedVersions(t, db, "einvoice"))

		_, err := db.ExecContext(ctx,
			`INSERT INTO invoices (gstin, doc_no, irn, ack_no) VALUES ($1, $2, $3, $4)`,
			"29AAACI1681G1ZS", "INV/1", "irn-1", "ack-1")
		require.NoError(t, err, "both migrations must have run")

		var name string
		require.NoError(t, db.QueryRowContext(ctx,
			`SELECT name FROM schema_migrations WHERE service = $1 AND version = $2`, "einvoice", 2).Scan(&name))
		require.Equal(t, "add_ack", name)
	})
}

func TestMigrate_RerunIsNoOp(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		ctx := t.Context()
		require.NoError(t, db.Migrate(ctx, "einvoice", invoiceMigrations()))
		_, err := db.ExecContext(ctx, `INSERT INTO invoices (gstin, doc_no) VALUES ($1, $2)`, "g", "d")
		require.NoError(t, err)

		require.NoError(t, db.Migrate(ctx, "einvoice", invoiceMigrations()))
		require.Equal(t, []int{1, 2}, appliedVersions(t, db, "einvoice"))
		var n int
		require.NoError(t, db.QueryRowContext(ctx, `SELECT COUNT(*) FROM invoices`).Scan(&n))
		require.Equal(t, 1, n, "re-running must not recreate tables")
	})
}

func TestMigrate_AppliesOnlyNewFiles(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		ctx := t.Context()
		first := invoiceMigrations()
		delete(first, "0002_add_ack.sql")
		require.NoError(t, db.Migrate(ctx, "einvoice", first))
		require.Equal(t, []int{1}, appliedVersions(t, db, "einvoice"))

		require.NoError(t, db.Migrate(ctx, "einvoice", invoiceMigrations()))
		require.Equal(t, []int{1, 2}, appliedVersions(t, db, "einvoice"))
	})
}

func TestMigrate_ServicesAreIndependent(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		ctx := t.Context()
		require.NoError(t, db.Migrate(ctx, "einvoice", invoiceMigrations()))
		require.NoError(t, db.Migrate(ctx, "ewaybill", fstest.MapFS{
			"0001_create_ewaybills.sql": {Data: []byte(`CREATE TABLE ewaybills (ewb_no TEXT PRIMARY KEY)`)},
		}))
		require.Equal(t, []int{1, 2}, appliedVersions(t, db, "einvoice"))
		require.Equal(t, []int{1}, appliedVersions(t, db, "ewaybill"))
	})
}

func TestMigrate_RefusesChangedAppliedFile(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		ctx := t.Context()
		require.NoError(t, db.Migrate(ctx, "einvoice", invoiceMigrations()))

		edited := invoiceMigrations()
		edited["0001_create_invoices.sql"] = &fstest.MapFile{Data: []byte(`CREATE TABLE invoices (id INTEGER)`)}
		edited["0003_more.sql"] = &fstest.MapFile{Data: []byte(`CREATE TABLE more (id INTEGER)`)}
		err := db.Migrate(ctx, "einvoice", edited)
		require.ErrorIs(t, err, store.ErrChecksumMismatch)
		require.ErrorContains(t, err, "0001_create_invoices.sql")
		require.Equal(t, []int{1, 2}, appliedVersions(t, db, "einvoice"), "nothing new may be applied after drift")
	})
}

func TestMigrate_FailedMigrationRollsBack(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		ctx := t.Context()
		bad := invoiceMigrations()
		bad["0003_broken.sql"] = &fstest.MapFile{Data: []byte(`CREATE TABLE half (id INTEGER); THIS IS NOT SQL;`)}
		require.Error(t, db.Migrate(ctx, "einvoice", bad))
		require.Equal(t, []int{1, 2}, appliedVersions(t, db, "einvoice"))

		_, err := db.ExecContext(ctx, `INSERT INTO half (id) VALUES (1)`)
		require.Error(t, err, "the failed migration's first statement must be rolled back")
	})
}

func TestMigrate_IgnoresVersionsAppliedByNewerRelease(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		ctx := t.Context()
		require.NoError(t, db.Migrate(ctx, "einvoice", invoiceMigrations()))
		older := invoiceMigrations()
		delete(older, "0002_add_ack.sql")
		require.NoError(t, db.Migrate(ctx, "einvoice", older), "an older replica restarting must not fail")
	})
}

func TestMigrate_DialectSpecificFileOverrides(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		ctx := t.Context()
		require.NoError(t, db.Migrate(ctx, "seq", fstest.MapFS{
			"0001_counter.sql":          {Data: []byte(`CREATE TABLE counter (backend TEXT)`)},
			"0002_seed.sql":             {Data: []byte(`INSERT INTO counter (backend) VALUES ('sqlite')`)},
			"0002_seed.postgres.sql":    {Data: []byte(`INSERT INTO counter (backend) VALUES ('postgresql')`)},
			"0003_only_pg.postgres.sql": {Data: []byte(`SELECT 1`)},
			"0003_only_pg.sqlite.sql":   {Data: []byte(`SELECT 1`)},
		}))
		var backend string
		require.NoError(t, db.QueryRowContext(ctx, `SELECT backend FROM counter`).Scan(&backend))
		require.Equal(t, db.Dialect().String(), backend)
	})
}

// Two replicas starting at once must apply each migration exactly once.
func TestMigrate_ConcurrentCallersApplyOnce(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		ctx := t.Context()
		const replicas = 4
		errs := make(chan error, replicas)
		var wg sync.WaitGroup
		for range replicas {
			wg.Go(func() { errs <- db.Migrate(ctx, "einvoice", invoiceMigrations()) })
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		require.Equal(t, []int{1, 2}, appliedVersions(t, db, "einvoice"))
	})
}

func TestLoadMigrations(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		files   fstest.MapFS
		dialect store.Dialect
		want    []string // chosen files, in order
		wantErr string
	}{
		{
			name: "ordered by version, not by name",
			files: fstest.MapFS{
				"0010_b.sql": {Data: []byte("x")}, "0002_a.sql": {Data: []byte("x")}, "notes.txt": {},
			},
			dialect: store.SQLite,
			want:    []string{"0002_a.sql", "0010_b.sql"},
		},
		{
			name: "postgres file overrides generic on postgres",
			files: fstest.MapFS{
				"0001_a.sql": {Data: []byte("x")}, "0001_a.postgres.sql": {Data: []byte("y")},
			},
			dialect: store.Postgres,
			want:    []string{"0001_a.postgres.sql"},
		},
		{
			name: "postgres file ignored on sqlite",
			files: fstest.MapFS{
				"0001_a.sql": {Data: []byte("x")}, "0001_a.postgres.sql": {Data: []byte("y")},
			},
			dialect: store.SQLite,
			want:    []string{"0001_a.sql"},
		},
		{
			name:    "badly named sql file refused",
			files:   fstest.MapFS{"1_a.sql": {Data: []byte("x")}},
			dialect: store.SQLite,
			wantErr: "not named NNNN_name",
		},
		{
			name:    "one version with two names refused",
			files:   fstest.MapFS{"0001_a.sql": {}, "0001_b.sql": {}},
			dialect: store.SQLite,
			wantErr: "two names",
		},
		{
			name:    "version without a file for the dialect refused",
			files:   fstest.MapFS{"0001_a.postgres.sql": {}},
			dialect: store.SQLite,
			wantErr: "no file for sqlite",
		},
		{
			name:    "version zero refused",
			files:   fstest.MapFS{"0000_a.sql": {}},
			dialect: store.SQLite,
			wantErr: "positive",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := store.LoadMigrations(tt.files, tt.dialect)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			var files []string
			for _, m := range got {
				files = append(files, m.File)
				require.Len(t, m.Checksum, 64)
			}
			require.Equal(t, tt.want, files)
		})
	}
}
