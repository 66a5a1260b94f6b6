package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strconv"
)

// ErrChecksumMismatch is returned by Migrate when a migration file that was already applied
// has since been edited. Applied migrations are history: add a new file instead.
var ErrChecksumMismatch = errors.New("store: applied migration was changed")

// migrationFile matches NNNN_name.sql, with an optional .postgres or .sqlite before .sql.
var migrationFile = regexp.MustCompile(`^(\d{4,})_([a-z0-9_]+?)(?:\.(postgres|sqlite))?\.sql$`)

// Migration is one schema change of a service.
type Migration struct {
	Version  int
	Name     string
	File     string
	SQL      string
	Checksum string
}

// LoadMigrations reads the migrations of fsys (its root directory) that apply to dialect,
// ordered by version. A file NNNN_name.postgres.sql or NNNN_name.sqlite.sql replaces
// NNNN_name.sql on that dialect; every version must have a file for every dialect.
func LoadMigrations(fsys fs.FS, dialect Dialect) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("store: read migrations: %w", err)
	}
	type candidate struct {
		name, file, dialect string
	}
	byVersion := map[int][]candidate{}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		m := migrationFile.FindStringSubmatch(e.Name())
		if m == nil {
			if len(e.Name()) > 4 && e.Name()[len(e.Name())-4:] == ".sql" {
				return nil, fmt.Errorf("store: migration file %q is not named NNNN_name[.postgres|.sqlite].sql", e.Name())
			}
			continue
		}
		v, err := strconv.Atoi(m[1])
		if err != nil || v == 0 {
			return nil, fmt.Errorf("store: migration file %q: version must be a positive number", e.Name())
		}
		byVersion[v] = append(byVersion[v], candidate{name: m[2], file: e.Name(), dialect: m[3]})
	}

	want := "postgres"
	if dialect == SQLite {
		want = "sqlite"
	}
	out := make([]Migration, 0, len(byVersion))
	for v, cands := range byVersion {
		var chosen *candidate
		for i, c := range cands {
			if c.name != cands[0].name {
				return nil, fmt.Errorf("store: migration version %04d has two names: %q and %q", v, cands[0].file, c.file)
			}
			switch {
			case c.dialect == want:
				chosen = &cands[i]
			case c.dialect == "" && chosen == nil:
				chosen = &cands[i]
			}
		}
		if chosen == nil {
			return nil, fmt.Errorf("store: migration version %04d (%s) has no file for %s", v, cands[0].name, dialect)
		}
		body, err := fs.ReadFile(fsys, chosen.file)
		if err != nil {
			return nil, fmt.Errorf("store: read migration: %w", err)
		}
		sum := sha256.Sum256(body)
		out = append(out, Migration{
			Version: v, Name: chosen.name, File: chosen.file,
			SQL: string(body), Checksum: hex.EncodeToString(sum[:]),
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

const createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
	service    TEXT    NOT NULL,
	version    INTEGER NOT NULL,
	name       TEXT    NOT NULL,
	checksum   TEXT    NOT NULL,
	applied_at %s NOT NULL DEFAULT CURRENT_TIMESTAMP,
	PRIMARY KEY (service, version)
)`

// Migrate applies the service's pending migrations from fsys in version order, each in its
// own transaction, and records them in schema_migrations. It is idempotent, refuses to run if
// an applied migration's file has changed (ErrChecksumMismatch), and is safe to call from
// several replicas at once: on PostgreSQL each step holds a transaction-scoped advisory lock
// for the current schema, on SQLite each step holds the write lock. Applied versions that fsys
// does not know (a newer replica ran them) are left alone.
func (db *DB) Migrate(ctx context.Context, service string, fsys fs.FS) error {
	if service == "" {
		return errors.New("store: migrate: empty service name")
	}
	migrations, err := LoadMigrations(fsys, db.dialect)
	if err != nil {
		return err
	}
	for {
		var done bool
		err := db.InTx(ctx, func(tx *Tx) error {
			var err error
			done, err = migrateStep(ctx, tx, service, migrations)
			return err
		})
		if err != nil {
			return err
		}
		if done {
			return nil
		}
	}
}

// migrateStep applies the first pending migration, under the migration lock, and reports
// whether there was none.
func migrateStep(ctx context.Context, tx *Tx, service string, migrations []Migration) (done bool, err error) {
	if tx.Dialect() == Postgres {
		if _, err := tx.ExecContext(ctx,
			`SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.irpgate.schema_migrations'))`); err != nil {
			return false, fmt.Errorf("store: migrate %s: lock: %w", service, err)
		}
	}
	timestamp := "TIMESTAMP" // SQLite's CURRENT_TIMESTAMP is UTC text
	if tx.Dialect() == Postgres {
		timestamp = "TIMESTAMPTZ"
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf(createMigrationsTable, timestamp)); err != nil {
		return false, fmt.Errorf("store: migrate %s: create schema_migrations: %w", service, err)
	}
	applied, err := appliedChecksums(ctx, tx, service)
	if err != nil {
		return false, err
	}
	for _, m := range migrations {
		sum, ok := applied[m.Version]
		if !ok {
			continue
		}
		if sum != m.Checksum {
			return false, fmt.Errorf("%w: %s migration %s (version %d) differs from the one applied; add a new migration instead of editing it",
				ErrChecksumMismatch, service, m.File, m.Version)
		}
	}
	for _, m := range migrations {
		if _, ok := applied[m.Version]; ok {
			continue
		}
		if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
			return false, fmt.Errorf("store: migrate %s: apply %s: %w", service, m.File, err)
		}
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO schema_migrations (service, version, name, checksum) VALUES ($1, $2, $3, $4)`,
			service, m.Version, m.Name, m.Checksum); err != nil {
			return false, fmt.Errorf("store: migrate %s: record %s: %w", service, m.File, err)
		}
		return false, nil
	}
	return true, nil
}

func appliedChecksums(ctx context.Context, tx *Tx, service string) (map[int]string, error) {
	rows, err := tx.QueryContext(ctx,
		`SELECT version, checksum FROM schema_migrations WHERE service = $1`, service)
	if err != nil {
		return nil, fmt.Errorf("store: migrate %s: read schema_migrations: %w", service, err)
	}
	defer rows.Close()
	applied := map[int]string{}
	for rows.Next() {
		var v int
		var sum string
		if err := rows.Scan(&v, &sum); err != nil {
			return nil, fmt.Errorf("store: migrate %s: read schema_migrations: %w", service, err)
		}
		applied[v] = sum
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: migrate %s: read schema_migrations: %w", service, err)
	}
	return applied, nil
}
