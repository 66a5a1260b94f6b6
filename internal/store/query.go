package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"unicode"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

const tracerName = "irpgate/store"

// Span names, one per kind of call.
const (
	spanExec     = "store.exec"
	spanQuery    = "store.query"
	spanQueryRow = "store.query_row"
	spanTx       = "store.tx"
)

// Querier is what repository code needs: it is satisfied by both *DB and *Tx, so the same
// function can run inside or outside a transaction.
type Querier interface {
	Dialect() Dialect
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *Row
}

var (
	_ Querier = (*DB)(nil)
	_ Querier = (*Tx)(nil)
)

// Row is the result of QueryRowContext. Scan reports ErrNotFound when there is no row.
type Row struct {
	row *sql.Row
	err error // preparing the statement failed
}

// Scan copies the row's columns into dest; it returns ErrNotFound (which wraps
// sql.ErrNoRows) when the query matched nothing.
func (r *Row) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	return notFound(r.row.Scan(dest...))
}

// Err returns the error, if any, met running the query.
func (r *Row) Err() error {
	if r.err != nil {
		return r.err
	}
	return notFound(r.row.Err())
}

// ExecContext runs a statement that returns no rows.
func (db *DB) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	ctx, span := db.start(ctx, spanExec, query)
	defer span.End()
	if err := db.enterWrite(ctx); err != nil {
		return nil, db.end(span, err)
	}
	defer db.leaveWrite()
	ctx, err := db.statementContext(ctx)
	if err != nil {
		return nil, db.end(span, err)
	}
	st, err := db.prepared(ctx, db.write, query)
	if err != nil {
		return nil, db.end(span, err)
	}
	var res sql.Result
	if st != nil {
		res, err = st.ExecContext(ctx, args...)
	} else {
		res, err = db.write.ExecContext(ctx, query, args...)
	}
	db.wrote()
	return res, db.end(span, err)
}

// statementContext is the context a statement of ExecContext runs on. On SQLite it is
// ctx without its cancellation and deadline: the driver would watch them with a goroutine
// per statement, about 6 µs of a registration's two statements each
// (BenchmarkStoreRegistration), while such a statement cannot outlast them by much: it
// waits at most busy_timeout for the write lock and otherwise runs in microseconds. A
// context already done still stops the statement before it starts, and the wait for the
// write connection ends with ctx (enterWrite). PostgreSQL keeps ctx: a statement there can
// wait on another transaction's row lock for as long as that transaction lives.
// QueryContext and QueryRowContext keep ctx everywhere: reading rows takes as long as the
// caller makes it, so a read may wait for a connection that long.
func (db *DB) statementContext(ctx context.Context) (context.Context, error) {
	if db.dialect != SQLite {
		return ctx, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return context.WithoutCancel(ctx), nil
}

// enterWrite waits, on SQLite, for the write connection to be free for one statement or
// transaction, as long as ctx lasts; leaveWrite frees it. On PostgreSQL both do nothing:
// its statements keep their context, and database/sql's wait for a connection ends with it.
func (db *DB) enterWrite(ctx context.Context) error {
	if db.writeGate == nil {
		return nil
	}
	select {
	case db.writeGate <- struct{}{}:
		return nil
	default:
	}
	select {
	case db.writeGate <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (db *DB) leaveWrite() {
	if db.writeGate != nil {
		<-db.writeGate
	}
}

// QueryContext runs a query that returns rows. On SQLite, anything but a plain SELECT
// (for example INSERT ... RETURNING) runs on the write connection.
func (db *DB) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	ctx, span := db.start(ctx, spanQuery, query)
	defer span.End()
	pool := db.poolFor(query)
	st, err := db.prepared(ctx, pool, query)
	if err != nil {
		return nil, db.end(span, err)
	}
	var rows *sql.Rows
	if st != nil {
		rows, err = st.QueryContext(ctx, args...)
	} else {
		rows, err = pool.QueryContext(ctx, query, args...)
	}
	if pool == db.write {
		db.wrote() // INSERT ... RETURNING and the like
	}
	return rows, db.end(span, err)
}

// QueryRowContext runs a query expected to return at most one row.
func (db *DB) QueryRowContext(ctx context.Context, query string, args ...any) *Row {
	ctx, span := db.start(ctx, spanQueryRow, query)
	defer span.End()
	// A row keeps ctx, unlike ExecContext's statement: its wait for a connection (the write
	// connection, which a row holds until Scan, past any gate; or one of the read pool's,
	// which readers still reading hold) must end with the caller's deadline.
	pool := db.poolFor(query)
	if err := ctx.Err(); err != nil {
		_ = db.end(span, err)
		return &Row{err: err}
	}
	st, err := db.prepared(ctx, pool, query)
	if err != nil {
		_ = db.end(span, err)
		return &Row{err: err}
	}
	var row *sql.Row
	if st != nil {
		row = st.QueryRowContext(ctx, args...)
	} else {
		row = pool.QueryRowContext(ctx, query, args...)
	}
	if pool == db.write {
		db.wrote()
	}
	_ = db.end(span, row.Err())
	return &Row{row: row}
}

func (db *DB) poolFor(query string) *sql.DB {
	if strings.EqualFold(firstWord(query), "SELECT") {
		return db.read
	}
	return db.write
}

// Tx is a transaction started by InTx.
type Tx struct {
	tx     *sql.Tx
	db     *DB
	missed []string // statements to cache when the transaction ends
}

// Dialect reports which SQL flavour the database speaks.
func (tx *Tx) Dialect() Dialect { return tx.db.dialect }

// ExecContext runs a statement that returns no rows inside the transaction.
func (tx *Tx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	ctx, span := tx.db.start(ctx, spanExec, query)
	defer span.End()
	st, err := tx.prepared(ctx, query)
	if err != nil {
		return nil, tx.db.end(span, err)
	}
	var res sql.Result
	if st != nil {
		res, err = st.ExecContext(ctx, args...)
	} else {
		res, err = tx.tx.ExecContext(ctx, query, args...)
	}
	return res, tx.db.end(span, err)
}

// QueryContext runs a query that returns rows inside the transaction.
func (tx *Tx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	ctx, span := tx.db.start(ctx, spanQuery, query)
	defer span.End()
	st, err := tx.prepared(ctx, query)
	if err != nil {
		return nil, tx.db.end(span, err)
	}
	var rows *sql.Rows
	if st != nil {
		rows, err = st.QueryContext(ctx, args...)
	} else {
		rows, err = tx.tx.QueryContext(ctx, query, args...)
	}
	return rows, tx.db.end(span, err)
}

// QueryRowContext runs a query expected to return at most one row inside the transaction.
func (tx *Tx) QueryRowContext(ctx context.Context, query string, args ...any) *Row {
	ctx, span := tx.db.start(ctx, spanQueryRow, query)
	defer span.End()
	st, err := tx.prepared(ctx, query)
	if err != nil {
		_ = tx.db.end(span, err)
		return &Row{err: err}
	}
	var row *sql.Row
	if st != nil {
		row = st.QueryRowContext(ctx, args...)
	} else {
		row = tx.tx.QueryRowContext(ctx, query, args...)
	}
	_ = tx.db.end(span, row.Err())
	return &Row{row: row}
}

// prepared returns the statement of query prepared on pool, from the cache, or nil when
// statements are not cached (PostgreSQL: pgx keeps its own statement cache per
// connection). Parsing a statement is a good part of a small SQLite call, and the
// service's statements are a fixed set, so each is parsed once per connection.
func (db *DB) prepared(ctx context.Context, pool *sql.DB, query string) (*sql.Stmt, error) {
	if db.dialect != SQLite || multiStatement(query) {
		return nil, nil
	}
	key := stmtKey{pool, query}
	if st, ok := db.stmts.Load(key); ok {
		return st.(*sql.Stmt), nil
	}
	if db.nstmts.Load() >= maxCachedStatements {
		return nil, nil
	}
	st, err := pool.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if prev, loaded := db.stmts.LoadOrStore(key, st); loaded {
		_ = st.Close()
		return prev.(*sql.Stmt), nil
	}
	db.nstmts.Add(1)
	return st, nil
}

// prepared is the cached statement of query bound to the transaction, or nil. A statement
// not cached yet runs unprepared and is cached once the transaction ends: on SQLite the
// transaction holds the only write connection, so it cannot be prepared on the pool now.
func (tx *Tx) prepared(ctx context.Context, query string) (*sql.Stmt, error) {
	if tx.db.dialect != SQLite || multiStatement(query) {
		return nil, nil
	}
	st, ok := tx.db.stmts.Load(stmtKey{tx.db.write, query})
	if !ok {
		tx.missed = append(tx.missed, query)
		return nil, nil
	}
	return tx.tx.StmtContext(ctx, st.(*sql.Stmt)), nil
}

// multiStatement reports whether query holds more than one statement (a migration
// script): a prepared statement would run only the first, so such text is never cached.
func multiStatement(query string) bool {
	return strings.Contains(strings.TrimRight(strings.TrimSpace(query), ";"), ";")
}

// stmtKey names a cached statement.
type stmtKey struct {
	pool  *sql.DB
	query string
}

// maxCachedStatements bounds the statement cache; statements past it run unprepared.
const maxCachedStatements = 512

// InTx runs fn in a transaction, committing if fn returns nil and rolling back if it returns
// an error or panics. fn must use tx, not db, for its statements.
func (db *DB) InTx(ctx context.Context, fn func(tx *Tx) error) (err error) {
	ctx, span := db.tracer.Start(ctx, spanTx, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(db.system))
	defer func() { _ = db.end(span, err); span.End() }()

	if err := db.enterWrite(ctx); err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	defer db.leaveWrite()
	sqlTx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	committed := false
	tx := &Tx{tx: sqlTx, db: db}
	defer func() {
		if !committed {
			_ = sqlTx.Rollback()
		}
		for _, q := range tx.missed {
			_, _ = db.prepared(context.WithoutCancel(ctx), db.write, q)
		}
	}()
	if err := fn(tx); err != nil {
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		committed = true // the driver has already ended the transaction
		return fmt.Errorf("store: commit: %w", err)
	}
	committed = true
	db.wrote()
	return nil
}

func (db *DB) start(ctx context.Context, name, query string) (context.Context, trace.Span) {
	ctx, span := db.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindClient))
	if span.IsRecording() {
		span.SetAttributes(db.system, attribute.String("db.query.summary", db.summary(query)))
	}
	return ctx, span
}

// maxSummaries bounds the summaries a DB remembers (its statements are a fixed set; text
// built at run time, if any, is summarized each time past this).
const maxSummaries = 4096

// summary is Summarize(query), remembered per statement text.
func (db *DB) summary(query string) string {
	if s, ok := db.summaries.Load(query); ok {
		return s.(string)
	}
	s := Summarize(query)
	if db.nsummaries.Add(1) <= maxSummaries {
		db.summaries.Store(query, s)
	}
	return s
}

// end records err on span and returns it unchanged. A missing row is not a failure.
//
// Only the error's class goes on the span, never its message: driver messages can quote the
// values bound to the statement ("invalid input syntax for type integer: \"...\"").
func (db *DB) end(span trace.Span, err error) error {
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		errType, status := classify(err)
		span.SetAttributes(attribute.String("error.type", errType))
		if status != "" {
			span.SetAttributes(attribute.String("db.response.status_code", status))
		}
		span.SetStatus(codes.Error, errType)
	}
	return err
}

// Summarize returns a short, value-free description of a statement, such as "SELECT invoices"
// or "INSERT schema_migrations": the operation and the table it names first. It is what spans
// carry instead of the statement, so literals in SQL never reach a trace.
func Summarize(query string) string {
	words := strings.FieldsFunc(query, func(r rune) bool {
		return unicode.IsSpace(r) || r == '(' || r == ')' || r == ',' || r == ';'
	})
	if len(words) == 0 {
		return ""
	}
	op := strings.ToUpper(words[0])
	// The word after which the first table name follows.
	var after []string
	switch op {
	case "SELECT", "DELETE":
		after = []string{"FROM"}
	case "INSERT", "REPLACE":
		after = []string{"INTO"}
	case "UPDATE":
		after = []string{"UPDATE"}
	case "CREATE", "DROP", "ALTER":
		after = []string{"TABLE", "INDEX", "VIEW", "SCHEMA", "EXISTS"}
	case "WITH":
		after = []string{"FROM", "INTO", "UPDATE"}
	default:
		return op
	}
	for i := 0; i < len(words)-1; i++ {
		w := strings.ToUpper(words[i])
		for _, a := range after {
			if w == a && isIdentifier(words[i+1]) && !isKeyword(words[i+1]) {
				return op + " " + words[i+1]
			}
		}
	}
	return op
}

func isIdentifier(s string) bool {
	if len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r == '_' || r == '.' || r == '"' || unicode.IsLetter(r) || unicode.IsDigit(r)) {
			return false
		}
	}
	return s != ""
}

func isKeyword(s string) bool {
	switch strings.ToUpper(s) {
	case "IF", "NOT", "EXISTS", "ONLY", "UNIQUE", "TABLE", "INDEX", "OR", "SELECT":
		return true
	}
	return false
}

func firstWord(query string) string {
	query = strings.TrimLeftFunc(query, func(r rune) bool { return unicode.IsSpace(r) || r == '(' })
	end := strings.IndexFunc(query, func(r rune) bool { return !unicode.IsLetter(r) })
	if end < 0 {
		return query
	}
	return query[:end]
}
