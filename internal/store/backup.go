package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// ErrBackupUnsupported is Backup's answer on PostgreSQL, whose own tools (pg_dump, base
// backups) back it up.
var ErrBackupUnsupported = errors.New("store: backup copies SQLite databases only; back up PostgreSQL with pg_dump or its base backups")

// Backup writes a consistent copy of the SQLite database to path, a file that must not
// exist yet, while other connections go on reading and writing: SQLite's VACUUM INTO
// reads one snapshot and takes no write lock. The copy is synced to disk before Backup
// returns. It is a database on its own (no write-ahead log beside it), compacted.
func (db *DB) Backup(ctx context.Context, path string) error {
	if db.dialect != SQLite {
		return ErrBackupUnsupported
	}
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("store: backup: %s already exists", path)
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("store: backup: %w", err)
	}
	ctx, span := db.start(ctx, spanExec, "VACUUM INTO")
	defer span.End()
	if _, err := db.read.ExecContext(ctx, "VACUUM INTO $1", path); err != nil {
		return db.end(span, fmt.Errorf("store: backup: %w", err))
	}
	return db.end(span, syncFile(path))
}

// syncFile flushes the file at path and the directory entry naming it to disk.
func syncFile(path string) error {
	for _, p := range []string{path, filepath.Dir(path)} {
		f, err := os.Open(p)
		if err != nil {
			return fmt.Errorf("store: backup: %w", err)
		}
		err = f.Sync()
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("store: backup: sync %s: %w", p, err)
		}
	}
	return nil
}
