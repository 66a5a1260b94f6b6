package server

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/irpgate/irpgate/internal/callerauth"
	"github.com/irpgate/irpgate/internal/store"
	"github.com/irpgate/irpgate/services/auth"
)

// BackupReport says what Backup wrote.
type BackupReport struct {
	Dir      string           // the new data directory
	Database string           // the database copy in it; empty when the database is PostgreSQL
	Rows     map[string]int64 // rows per table in the copy
	Files    []string         // other files copied, relative to Dir
}

// Backup copies what a server with cfg keeps to dest, a directory that must not exist
// or be empty, laid out as a data directory: `irpgate serve --data-dir dest` (with cfg's
// other settings) starts from it. It runs beside a serving irpgate:
//   - the embedded SQLite database is copied as one consistent snapshot (store.Backup) and
//     checked with SQLite's integrity check; a PostgreSQL database is left to pg_dump;
//   - every other file of the data directory is copied (the master key that seals the IRP
//     credentials, the service key, the sandbox's keys and registry), and so are a master
//     key file, service key file or sandbox directory configured outside it, under their
//     default names.
//
// The files are copied after the database, so a master key added meanwhile is in the copy;
// do not rotate the master key during a backup. The copy holds the keys: keep it as you
// keep the data directory.
func Backup(ctx context.Context, cfg Config, dest string) (*BackupReport, error) {
	if err := newBackupDir(dest); err != nil {
		return nil, err
	}
	r := &BackupReport{Dir: dest, Rows: map[string]int64{}}
	postgres := strings.HasPrefix(cfg.DatabaseURL, "postgres://") || strings.HasPrefix(cfg.DatabaseURL, "postgresql://")
	var dbPath string
	if !postgres {
		var err error
		if dbPath, err = sqlitePath(cfg); err != nil {
			return nil, err
		}
		r.Database = filepath.Join(dest, store.DefaultFileName)
		if err := backupSQLite(ctx, dbPath, r); err != nil {
			return nil, err
		}
	}

	// Files: the data directory's, then those configured elsewhere, each under the name
	// the data directory gives it.
	type source struct{ from, to string }
	var sources []source
	if cfg.DataDir != "" {
		sources = append(sources, source{cfg.DataDir, ""})
	}
	masterKey := cmp.Or(cfg.MasterKeyFile, os.Getenv(auth.MasterKeyFileEnv))
	serviceKey := os.Getenv(callerauth.ServiceKeyFileEnv)
	for _, s := range []source{
		{masterKey, "master.key"},
		{serviceKey, callerauth.ServiceKeyFileName},
		{cfg.SandboxDataDir, "sandbox"},
	} {
		if s.from != "" && !within(s.from, cfg.DataDir) {
			sources = append(sources, s)
		}
	}
	skip := func(path string) bool {
		if within(path, dest) {
			return true // a backup made inside the data directory
		}
		// The database in use, and the data directory's SQLite file also when it is not
		// (PostgreSQL configured): a file copy of a database someone may be writing is
		// not a backup.
		for _, db := range []string{dbPath, filepath.Join(cfg.DataDir, store.DefaultFileName)} {
			for _, suffix := range []string{"", "-wal", "-shm", "-journal"} {
				if db != "" && sameFile(path, db+suffix) {
					return true
				}
			}
		}
		return false
	}
	for _, s := range sources {
		files, err := copyTree(s.from, filepath.Join(dest, s.to), skip)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			r.Files = append(r.Files, filepath.Join(s.to, f))
		}
	}
	slices.Sort(r.Files)
	return r, syncDir(dest)
}

// newBackupDir makes dest, or accepts it when it is an empty directory.
func newBackupDir(dest string) error {
	if dest == "" {
		return errors.New("backup: no destination directory")
	}
	entries, err := os.ReadDir(dest)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(dest, 0o700); err != nil {
			return fmt.Errorf("backup: %w", err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("backup: destination: %w", err)
	case len(entries) > 0:
		return fmt.Errorf("backup: destination %s is not empty", dest)
	}
	return nil
}

// sqlitePath is the file of cfg's SQLite database, which must exist: a wrong --data-dir
// is an error, not an empty backup.
func sqlitePath(cfg Config) (string, error) {
	path := filepath.Join(cfg.DataDir, store.DefaultFileName)
	if u := cfg.DatabaseURL; u != "" {
		rest := strings.TrimPrefix(strings.TrimPrefix(strings.TrimPrefix(u, "sqlite:"), "file:"), "//")
		path, _, _ = strings.Cut(rest, "?")
		if path == ":memory:" || path == "" || rest == u {
			return "", fmt.Errorf("backup: database URL %s: not a SQLite file or a postgres:// URL", store.Redact(u))
		}
	}
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("backup: no irpgate database at %s (is --data-dir or --database-url right?): %w", path, err)
	}
	return path, nil
}

// backupSQLite snapshots the database at path into r.Database and checks the copy.
func backupSQLite(ctx context.Context, path string, r *BackupReport) error {
	// Without a background checkpointer: this handle only reads.
	db, err := store.Open(ctx, store.Config{URL: "sqlite:" + path, CheckpointInterval: -1})
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	err = db.Backup(ctx, r.Database)
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}

	cp, err := store.Open(ctx, store.Config{URL: "sqlite:" + r.Database, CheckpointInterval: -1})
	if err != nil {
		return fmt.Errorf("backup: open the copy: %w", err)
	}
	defer cp.Close()
	var check string
	if err := cp.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&check); err != nil {
		return fmt.Errorf("backup: check the copy: %w", err)
	}
	if check != "ok" {
		return fmt.Errorf("backup: the copy fails SQLite's integrity check: %s", check)
	}
	rows, err := cp.QueryContext(ctx, `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`)
	if err != nil {
		return fmt.Errorf("backup: list tables: %w", err)
	}
	var tables []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			_ = rows.Close()
			return fmt.Errorf("backup: list tables: %w", err)
		}
		tables = append(tables, name)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return fmt.Errorf("backup: list tables: %w", err)
	}
	for _, name := range tables {
		var n int64
		// The names come from the copy's own catalogue, quoted as identifiers.
		q := `SELECT COUNT(*) FROM "` + strings.ReplaceAll(name, `"`, `""`) + `"`
		if err := cp.QueryRowContext(ctx, q).Scan(&n); err != nil {
			return fmt.Errorf("backup: count %s: %w", name, err)
		}
		r.Rows[name] = n
	}
	return nil
}

// copyTree copies the regular files under from (a file or a directory) to to, keeping
// their permission bits, and returns their paths relative to to. Paths skip reports
// are left out; a missing from copies nothing.
func copyTree(from, to string, skip func(string) bool) ([]string, error) {
	// A data directory may be a link to where the data lives; WalkDir would not enter it.
	from = realPath(from)
	var out []string
	err := filepath.WalkDir(from, func(path string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) && path == from {
			return fs.SkipAll
		}
		if err != nil {
			return err
		}
		if skip(path) {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		rel, err := filepath.Rel(from, path)
		if err != nil {
			return err
		}
		target := filepath.Join(to, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o700)
		case d.Type().IsRegular():
			if err := copyFile(path, target); err != nil {
				return err
			}
			out = append(out, rel)
		}
		return nil // sockets, devices and links are not data
	})
	if err != nil {
		return nil, fmt.Errorf("backup: copy %s: %w", from, err)
	}
	return out, nil
}

func copyFile(from, to string) (err error) {
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	info, err := src.Stat()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o700); err != nil {
		return err
	}
	dst, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, info.Mode().Perm())
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, dst.Close()) }()
	if _, err := io.Copy(dst, src); err != nil {
		return err
	}
	return dst.Sync()
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("backup: sync %s: %w", dir, err)
	}
	return nil
}

// within reports whether path is dir or under it, links resolved.
func within(path, dir string) bool {
	if dir == "" {
		return false
	}
	rel, err := filepath.Rel(realPath(dir), realPath(path))
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// realPath is path absolute with its links resolved, as far as it exists.
func realPath(path string) string {
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real
	}
	if abs, err := filepath.Abs(path); err == nil {
		return abs
	}
	return path
}

func sameFile(a, b string) bool {
	ia, err1 := os.Stat(a)
	ib, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(ia, ib)
}
