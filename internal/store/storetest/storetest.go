package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/irpgate/irpgate/internal/store"
)

// Environment variables read by Postgres.
const (
	// EnvDatabaseURL points at the PostgreSQL server tests create their schemas in.
	EnvDatabaseURL = "IRPGATE_TEST_DATABASE_URL"
	// EnvSkipPostgres, set to 1, skips PostgreSQL subtests when the server is unreachable
	// instead of failing them. CI has PostgreSQL and leaves it unset.
	EnvSkipPostgres = "IRPGATE_TEST_SKIP_POSTGRES"
	// DefaultDatabaseURL is used when EnvDatabaseURL is unset.
	DefaultDatabaseURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
)

// Option changes how the test databases are opened.
type Option func(*store.Config)

// WithTracerProvider makes the database trace to tp instead of the global provider.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(c *store.Config) { c.TracerProvider = tp }
}

// Each runs fn as the subtests "sqlite" and "postgres", each with its own empty database.
// Subtests may call t.Parallel.
func Each(t *testing.T, fn func(t *testing.T, db *store.DB), opts ...Option) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, SQLite(t, opts...)) })
	t.Run("postgres", func(t *testing.T) { fn(t, Postgres(t, opts...)) })
}

// SQLite opens a fresh SQLite database in t.TempDir(), closed when the test ends.
func SQLite(t testing.TB, opts ...Option) *store.DB {
	t.Helper()
	cfg := store.Config{DataDir: t.TempDir()}
	for _, o := range opts {
		o(&cfg)
	}
	db, err := store.Open(t.Context(), cfg)
	if err != nil {
		t.Fatalf("storetest: open sqlite: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// Postgres opens the PostgreSQL database from EnvDatabaseURL with search_path set to a new
// schema of its own, dropped when the test ends, so tests do not see each other's tables.
// If the server is unreachable the test fails, or is skipped when EnvSkipPostgres=1.
func Postgres(t testing.TB, opts ...Option) *store.DB {
	t.Helper()
	base := os.Getenv(EnvDatabaseURL)
	if base == "" {
		base = DefaultDatabaseURL
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()

	admin, err := store.Open(ctx, store.Config{URL: base})
	if err != nil {
		if os.Getenv(EnvSkipPostgres) == "1" {
			t.Skipf("storetest: PostgreSQL unreachable (%s=1): %v", EnvSkipPostgres, err)
		}
		t.Fatalf("storetest: PostgreSQL unreachable (set %s=1 to skip): %v", EnvSkipPostgres, err)
	}
	t.Cleanup(func() { _ = admin.Close() })

	schema := "t_" + randomHex(t, 8)
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("storetest: create schema: %v", err)
	}
	t.Cleanup(func() {
		// t.Context is already cancelled during cleanup.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(t.Context()), 30*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("storetest: drop schema %s: %v", schema, err)
		}
	})

	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("storetest: parse %s: %v", EnvDatabaseURL, err)
	}
	q := u.Query()
	q.Set("search_path", schema) // pgx sends unknown parameters as run-time settings
	u.RawQuery = q.Encode()

	cfg := store.Config{URL: u.String()}
	for _, o := range opts {
		o(&cfg)
	}
	db, err := store.Open(ctx, cfg)
	if err != nil {
		t.Fatalf("storetest: open postgres: %v", err)
	}
	// Registered after the drop, so it runs before it: close connections, then drop.
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func randomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("storetest: random: %v", err)
	}
	return hex.EncodeToString(b)
}
