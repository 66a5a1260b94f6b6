// Package store opens the SQL database a service keeps its tables in (SQLite by default,
// PostgreSQL when configured), traces every statement and applies the service's versioned
// migrations.
//
// Queries are written once with PostgreSQL-style positional placeholders ($1, $2, ...);
// the SQLite driver binds $N by position too, so no rewriting is needed.
//
// On SQLite all writes go through a single connection: SQLite allows one writer at a time,
// and queuing writers in the connection pool is more reliable than letting many connections
// race for the lock and fail with SQLITE_BUSY. Reads use a separate pool and, thanks to WAL,
// never wait for writers. A consequence: inside InTx, use the *Tx, never the *DB, or the
// call waits forever for the connection the transaction holds.
package store
