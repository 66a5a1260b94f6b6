// Package store opens the SQL database a service keeps its tables in (SQLite by default,
// PostgreSQL when configured), traces every statement and applies the service's versioned
// migrations.
//
// A service embeds its migrations and applies them at start-up:
//
//	//go:embed migrations/*.sql
//	var migrations embed.FS
//
//	sub, _ := fs.Sub(migrations, "migrations")
//	if err := db.Migrate(ctx, "einvoice", sub); err != nil { ... }
//
// Files are named NNNN_name.sql; NNNN_name.postgres.sql (or .sqlite.sql) replaces the generic
// file on that backend. An applied file must never change: Migrate refuses to run when it does.
//
// Queries are written once with PostgreSQL-style positional placeholders ($1, $2, ...);
// the SQLite driver binds $N by position too, so no rewriting is needed. Repository code
// takes a Querier so it runs the same on a *DB or inside InTx on a *Tx.
//
// On SQLite all writes go through a single connection: SQLite allows one writer at a time,
// and queuing writers in the connection pool is more reliable than letting many connections
// race for the lock and fail with SQLITE_BUSY. Reads use a separate pool and, thanks to WAL,
// do not wait for writers. A consequence: inside InTx, use the *Tx, never the *DB, or the
// call waits for the connection the transaction holds.
package store
