package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Dialect is the SQL flavour of the database behind a DB.
type Dialect int

const (
	// SQLite is the embedded default (modernc.org/sqlite, no cgo).
	SQLite Dialect = iota + 1
	// Postgres is PostgreSQL through pgx.
	Postgres
)

// String returns the OpenTelemetry db.system.name of the dialect.
func (d Dialect) String() string {
	switch d {
	case SQLite:
		return "sqlite"
	case Postgres:
		return "postgresql"
	default:
		return fmt.Sprintf("Dialect(%d)", int(d))
	}
}

// DefaultFileName is the SQLite file created in Config.DataDir when Config.URL is empty.
const DefaultFileName = "irpgate.db"

// Config says where the database lives.
type Config struct {
	// URL selects the database:
	//   - "" uses SQLite in DataDir/irpgate.db;
	//   - "sqlite:<path>" or "file:<path>[?params]" uses SQLite at path;
	//   - "postgres://..." or "postgresql://..." uses PostgreSQL.
	// It may hold a password; it is never logged or put in errors.
	URL string
	// DataDir holds the default SQLite file; it is created if missing.
	DataDir string
	// TracerProvider creates the "irpgate/store" tracer; nil means the global provider.
	TracerProvider trace.TracerProvider
	// CheckpointInterval is, on SQLite, the pause between background checkpoints while
	// writes go on: the write-ahead log is moved into the database file off the commit
	// path, so that no commit stalls doing it (0 means 100 ms; none run while nothing is
	// written). Negative leaves it to SQLite, which checkpoints on the committing
	// connection every 1000 pages. A URL that sets wal_autocheckpoint keeps SQLite's way.
	CheckpointInterval time.Duration
}

// DB is a service's handle on its database. It is safe for concurrent use.
type DB struct {
	dialect Dialect
	// write runs every statement that may write; on SQLite it has exactly one connection.
	write *sql.DB
	// read runs SELECTs; on PostgreSQL it is the same pool as write.
	read   *sql.DB
	tracer trace.Tracer
	system attribute.KeyValue

	stmts  sync.Map // stmtKey -> *sql.Stmt (SQLite)
	nstmts atomic.Int64

	summaries  sync.Map // statement text -> Summarize(text), for spans
	nsummaries atomic.Int64

	// writeGate (SQLite) admits one writer at a time to the write connection. A statement
	// there runs without its context's cancellation (statementContext), so database/sql's
	// own wait for the connection would not end with the caller's deadline; the gate's does.
	writeGate chan struct{}

	stopCheckpoints func()        // stops the background checkpointer (SQLite)
	wroteCh         chan struct{} // wakes the checkpointer after a write (nil: none runs)
}

// Open connects to the database described by cfg and checks that it answers.
func Open(ctx context.Context, cfg Config) (*DB, error) {
	tp := cfg.TracerProvider
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	db := &DB{tracer: tp.Tracer(tracerName)}

	var err error
	switch {
	case strings.HasPrefix(cfg.URL, "postgres://"), strings.HasPrefix(cfg.URL, "postgresql://"):
		err = db.openPostgres(ctx, cfg.URL)
	default:
		err = db.openSQLite(ctx, cfg)
	}
	if err != nil {
		return nil, err
	}
	db.system = attribute.String("db.system.name", db.dialect.String())
	return db, nil
}

func (db *DB) openPostgres(ctx context.Context, rawURL string) error {
	db.dialect = Postgres
	pool, err := sql.Open("pgx", rawURL)
	if err != nil {
		return fmt.Errorf("store: open %s: %w", Redact(rawURL), scrub(err, rawURL))
	}
	pool.SetMaxOpenConns(20)
	pool.SetMaxIdleConns(10)
	pool.SetConnMaxIdleTime(5 * time.Minute)
	if err := pool.PingContext(ctx); err != nil {
		_ = pool.Close()
		return fmt.Errorf("store: connect to %s: %w", Redact(rawURL), scrub(err, rawURL))
	}
	db.write, db.read = pool, pool
	return nil
}

func (db *DB) openSQLite(ctx context.Context, cfg Config) error {
	db.dialect = SQLite
	dsn, memory, background, err := sqliteDSN(cfg)
	if err != nil {
		return err
	}
	write, err := sql.Open("sqlite", dsn)
	if err != nil {
		return fmt.Errorf("store: open sqlite: %w", err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	db.writeGate = make(chan struct{}, 1)
	write.SetConnMaxLifetime(0)
	write.SetConnMaxIdleTime(0)
	if err := write.PingContext(ctx); err != nil {
		_ = write.Close()
		return fmt.Errorf("store: open sqlite: %w", err)
	}
	db.write, db.read = write, write
	if memory {
		// Every connection to ":memory:" is a separate database, so there is only one.
		return nil
	}
	read, err := sql.Open("sqlite", dsn)
	if err != nil {
		_ = write.Close()
		return fmt.Errorf("store: open sqlite: %w", err)
	}
	read.SetMaxOpenConns(8)
	read.SetMaxIdleConns(8)
	db.read = read
	if background {
		interval := cfg.CheckpointInterval
		if interval == 0 {
			interval = 100 * time.Millisecond
		}
		db.wroteCh = make(chan struct{}, 1)
		db.stopCheckpoints = db.checkpointAfterWrites(interval)
	}
	return nil
}

// wrote tells the background checkpointer, if any, that the log has grown.
func (db *DB) wrote() {
	if db.wroteCh != nil {
		select {
		case db.wroteCh <- struct{}{}:
		default:
		}
	}
}

// checkpointAfterWrites runs a PASSIVE checkpoint on a read connection after writes, at
// most once per interval, until the returned func is called; while nothing is written it
// sleeps. PASSIVE never waits for the writer or readers: it copies what it can, and the
// next round copies the rest (a failed checkpoint is tried again then). Checkpointing
// soon keeps the log short, so the writer goes on reusing it from the start.
func (db *DB) checkpointAfterWrites(interval time.Duration) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTimer(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-db.wroteCh:
			}
			t.Reset(interval) // let a burst of writes share one checkpoint
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			_, _ = db.read.ExecContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)")
		}
	}()
	return func() { cancel(); <-done }
}

// sqliteDSN builds the modernc DSN with the pragmas every connection needs. It reports whether
// the database is in memory and whether checkpoints are left to a background checkpointer.
func sqliteDSN(cfg Config) (dsn string, memory, background bool, err error) {
	var path, rawQuery string
	switch u := cfg.URL; {
	case u == "":
		if cfg.DataDir == "" {
			return "", false, false, errors.New("store: neither URL nor DataDir is set")
		}
		if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
			return "", false, false, fmt.Errorf("store: create data dir: %w", err)
		}
		path = filepath.Join(cfg.DataDir, DefaultFileName)
	case strings.HasPrefix(u, "sqlite:"), strings.HasPrefix(u, "file:"):
		rest := strings.TrimPrefix(strings.TrimPrefix(u, "sqlite:"), "file:")
		rest = strings.TrimPrefix(rest, "//")
		path, rawQuery, _ = strings.Cut(rest, "?")
	default:
		return "", false, false, fmt.Errorf("store: unsupported database URL scheme in %s", Redact(u))
	}
	if path == "" {
		return "", false, false, errors.New("store: sqlite URL has no path")
	}
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return "", false, false, fmt.Errorf("store: sqlite URL query: %w", err)
	}
	memory = path == ":memory:" || q.Get("mode") == "memory"

	have := map[string]bool{}
	for _, p := range q["_pragma"] {
		name, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(p)), "(")
		name, _, _ = strings.Cut(name, "=")
		have[strings.TrimSpace(name)] = true
	}
	background = !memory && cfg.CheckpointInterval >= 0 && !have["wal_autocheckpoint"]
	for _, p := range []struct{ name, value string }{
		{"busy_timeout", "busy_timeout(10000)"},
		{"journal_mode", "journal_mode(WAL)"},
		{"foreign_keys", "foreign_keys(1)"},
		{"synchronous", "synchronous(NORMAL)"},
		{"wal_autocheckpoint", "wal_autocheckpoint(0)"},
	} {
		switch {
		case have[p.name]:
		case p.name == "journal_mode" && memory:
		case p.name == "wal_autocheckpoint" && !background:
		default:
			q.Add("_pragma", p.value)
		}
	}
	if q.Get("_txlock") == "" {
		// Take the write lock at BEGIN so a transaction never fails upgrading a read lock.
		q.Set("_txlock", "immediate")
	}
	return "file:" + path + "?" + q.Encode(), memory, background, nil
}

// Dialect reports which SQL flavour the database speaks.
func (db *DB) Dialect() Dialect { return db.dialect }

// PingContext checks that the database answers.
func (db *DB) PingContext(ctx context.Context) error {
	if err := db.write.PingContext(ctx); err != nil {
		return fmt.Errorf("store: ping: %w", err)
	}
	return nil
}

// Close closes all connections.
func (db *DB) Close() error {
	if db.stopCheckpoints != nil {
		db.stopCheckpoints()
	}
	db.stmts.Range(func(_, st any) bool {
		_ = st.(*sql.Stmt).Close()
		return true
	})
	err := db.write.Close()
	if db.read != db.write {
		err = errors.Join(err, db.read.Close())
	}
	return err
}

// Redact returns rawURL with any password replaced by "xxxxx", fit for logs and errors.
func Redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "<unparseable database URL>"
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}

// scrub removes the URL's password from a driver error, in case the driver quoted it.
func scrub(err error, rawURL string) error {
	u, perr := url.Parse(rawURL)
	if perr != nil {
		return errors.New("invalid database URL")
	}
	secrets := []string{u.Query().Get("password")}
	if pw, ok := u.User.Password(); ok {
		secrets = append(secrets, pw, url.PathEscape(pw), url.QueryEscape(pw))
	}
	msg := err.Error()
	changed := false
	for _, s := range secrets {
		if s != "" && strings.Contains(msg, s) {
			msg = strings.ReplaceAll(msg, s, "xxxxx")
			changed = true
		}
	}
	if !changed {
		return err
	}
	return errors.New(msg)
}
