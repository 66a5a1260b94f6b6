package store_test

import (
	"testing"

	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/irpgate/irpgate/internal/store"
	"github.com/irpgate/irpgate/internal/store/storetest"
)

// Every statement is a child span of the request, named after its kind, carrying the backend
// and a summary of the statement, and never the values bound to it (they can be GSTINs,
// tokens or whole invoices).
func TestSpans_RecordStatementsWithoutArguments(t *testing.T) {
	t.Parallel()
	const secret = "SECRET-ARG-29AAACI1681G1ZS"
	exporter := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exporter))
	t.Cleanup(func() { _ = tp.Shutdown(t.Context()) })

	storetest.Each(t, func(t *testing.T, db *store.DB) {
		withInvoices(t, db)
		exporter.Reset()

		ctx, request := tp.Tracer("test").Start(t.Context(), "request")
		_, err := db.ExecContext(ctx, `INSERT INTO invoices (gstin, doc_no) VALUES ($1, $2)`, secret, "INV/1")
		require.NoError(t, err)
		var gstin string
		require.NoError(t, db.QueryRowContext(ctx, `SELECT gstin FROM invoices WHERE gstin = $1`, secret).Scan(&gstin))
		rows, err := db.QueryContext(ctx, `SELECT doc_no FROM invoices WHERE gstin = $1`, secret)
		require.NoError(t, err)
		defer rows.Close()
		var docNos []string
		for rows.Next() {
			var no string
			require.NoError(t, rows.Scan(&no))
			docNos = append(docNos, no)
		}
		require.NoError(t, rows.Err())
		require.Equal(t, []string{"INV/1"}, docNos)
		_, err = db.ExecContext(ctx, `INSERT INTO invoices (gstin, doc_no) VALUES ($1, $2)`, secret, "INV/1")
		require.True(t, store.IsUniqueViolation(err))
		// Drivers may quote a bad value in the error; spans must not.
		_, err = db.ExecContext(ctx, `UPDATE invoices SET irn = $1 WHERE CAST(doc_no AS INTEGER) = CAST($2 AS INTEGER) + 1`, "x", secret)
		if db.Dialect() == store.Postgres {
			require.ErrorContains(t, err, secret, "the caller still gets the full error")
		}
		require.NoError(t, db.InTx(ctx, func(tx *store.Tx) error {
			_, err := tx.ExecContext(ctx, `UPDATE invoices SET irn = $1 WHERE gstin = $2`, "irn-"+secret, secret)
			return err
		}))
		request.End()

		wantSystem := map[store.Dialect]string{store.SQLite: "sqlite", store.Postgres: "postgresql"}[db.Dialect()]
		type got struct{ name, summary string }
		var spans []got
		for _, s := range exporter.GetSpans() {
			if s.Name == "request" {
				continue
			}
			require.Equal(t, "irpgate/store", s.InstrumentationScope.Name)
			require.Equal(t, trace.SpanKindClient, s.SpanKind)
			require.Equal(t, request.SpanContext().TraceID(), s.SpanContext.TraceID(), "%s must join the request trace", s.Name)
			attrs := map[string]string{}
			for _, kv := range s.Attributes {
				attrs[string(kv.Key)] = kv.Value.String()
				require.NotContains(t, kv.Value.String(), secret, "span %s attribute %s", s.Name, kv.Key)
			}
			for _, ev := range s.Events {
				for _, kv := range ev.Attributes {
					require.NotContains(t, kv.Value.String(), secret, "span %s event %s", s.Name, ev.Name)
				}
			}
			require.NotContains(t, s.Status.Description, secret, s.Name)
			if s.Name == "store.exec" && len(spans) == 3 {
				require.Equal(t, "Error", s.Status.Code.String(), "the duplicate insert fails its span")
				require.Contains(t, []string{"23505", "1555"}, attrs["db.response.status_code"])
			}
			require.Equal(t, wantSystem, attrs["db.system.name"], s.Name)
			spans = append(spans, got{s.Name, attrs["db.query.summary"]})
		}
		require.Equal(t, []got{
			{"store.exec", "INSERT invoices"},
			{"store.query_row", "SELECT invoices"},
			{"store.query", "SELECT invoices"},
			{"store.exec", "INSERT invoices"}, // the duplicate, recorded as an error
			{"store.exec", "UPDATE invoices"}, // the bad cast
			{"store.exec", "UPDATE invoices"},
			{"store.tx", ""},
		}, spans)
	}, storetest.WithTracerProvider(tp))
}

func TestSummarize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, query, want string
	}{
		{"select names its table", "SELECT a, b FROM invoices WHERE x = 'literal'", "SELECT invoices"},
		{"insert names its table", "insert into schema_migrations (service) values ($1)", "INSERT schema_migrations"},
		{"update names its table", "\n\tUPDATE invoices SET irn = $1", "UPDATE invoices"},
		{"delete names its table", "DELETE FROM sessions WHERE expires_at < $1", "DELETE sessions"},
		{"create table if not exists", "CREATE TABLE IF NOT EXISTS schema_migrations (x INT)", "CREATE schema_migrations"},
		{"select without table", "SELECT 1", "SELECT"},
		{"other statements give only the verb", "PRAGMA journal_mode", "PRAGMA"},
		{"string literal is never a table", "SELECT x FROM 'secret value'", "SELECT"},
		{"empty", "  ", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, store.Summarize(tt.query))
		})
	}
}
