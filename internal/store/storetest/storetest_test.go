package storetest_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/irpgate/irpgate/internal/store"
	"github.com/irpgate/irpgate/internal/store/storetest"
)

func TestEach_RunsEveryBackend(t *testing.T) {
	t.Parallel()
	var seen []store.Dialect
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		seen = append(seen, db.Dialect())
	})
	require.Equal(t, []store.Dialect{store.SQLite, store.Postgres}, seen)
}

func TestPostgres_OwnSchemaDroppedAtCleanup(t *testing.T) {
	t.Parallel()
	var schemas []string
	for range 2 {
		t.Run("test", func(t *testing.T) {
			db := storetest.Postgres(t)
			var schema string
			require.NoError(t, db.QueryRowContext(t.Context(), `SELECT current_schema()`).Scan(&schema))
			require.NotEqual(t, "public", schema)
			_, err := db.ExecContext(t.Context(), `CREATE TABLE mine (id INTEGER)`)
			require.NoError(t, err, "each test may create the same table names")
			schemas = append(schemas, schema)
		})
	}
	require.Len(t, schemas, 2)
	require.NotEqual(t, schemas[0], schemas[1])

	probe := storetest.Postgres(t)
	for _, schema := range schemas {
		var n int
		require.NoError(t, probe.QueryRowContext(t.Context(),
			`SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = $1`, schema).Scan(&n))
		require.Zero(t, n, "schema %s must be dropped", schema)
	}
}

func TestPostgres_UnreachableSkipsOnlyWhenAllowed(t *testing.T) {
	t.Setenv(storetest.EnvDatabaseURL, "postgres://postgres@127.0.0.1:1/test?sslmode=disable&connect_timeout=2")
	t.Setenv(storetest.EnvSkipPostgres, "1")
	var skipped bool
	t.Run("unreachable", func(t *testing.T) {
		t.Cleanup(func() { skipped = t.Skipped() })
		storetest.Postgres(t)
		t.Error("Postgres must not return when the server is unreachable")
	})
	require.True(t, skipped)
}
