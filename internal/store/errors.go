package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// ErrNotFound is what Row.Scan returns when a query matched no row. It wraps sql.ErrNoRows,
// so errors.Is(err, store.ErrNotFound) and errors.Is(err, sql.ErrNoRows) both hold. Repository
// code returns it (wrapped with context) for a missing record, and the service translates it.
var ErrNotFound = fmt.Errorf("store: not found: %w", sql.ErrNoRows)

func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) && !errors.Is(err, ErrNotFound) {
		return ErrNotFound
	}
	return err
}

// IsNotFound reports whether err means that no row matched.
func IsNotFound(err error) bool { return errors.Is(err, sql.ErrNoRows) }

// IsUniqueViolation reports whether err is a violated UNIQUE or PRIMARY KEY constraint, on
// either backend, for example a second insert of the same document.
func IsUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "23505" // unique_violation
	}
	var sqErr *sqlite.Error
	if errors.As(err, &sqErr) {
		code := sqErr.Code()
		return code == sqlite3.SQLITE_CONSTRAINT_UNIQUE || code == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

// IsUnavailable reports whether err means that the database could not take the statement
// now, and may later: PostgreSQL unreachable, its connection lost, the server shutting down,
// starting or out of connections or other resources (a full disk, memory), a read-only
// server (a standby after a failover), an I/O error, a serialization failure or deadlock;
// SQLite's write lock held by another connection past the busy timeout, its disk full, its
// file unwritable or failing I/O. A statement that failed so may or may not
// have been applied (a connection lost during COMMIT), so callers treat it as not known.
func IsUnavailable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch c := pgErr.Code; {
		case strings.HasPrefix(c, "08"), // connection_exception
			strings.HasPrefix(c, "53"),               // insufficient_resources: disk_full, out_of_memory, too_many_connections
			strings.HasPrefix(c, "58"),               // system_error: io_error
			c == "57P01", c == "57P02", c == "57P03", // admin or crash shutdown, cannot connect now
			c == "25006",               // read_only_sql_transaction: a standby
			c == "40001", c == "40P01": // serialization_failure, deadlock_detected
			return true
		}
		return false
	}
	var sqErr *sqlite.Error
	if errors.As(err, &sqErr) {
		code := sqErr.Code() & 0xff // the primary result code
		switch code {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_READONLY:
			return true
		}
		return false
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	return errors.As(err, &connectErr) || errors.As(err, &netErr) || pgconn.Timeout(err) ||
		errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) ||
		errors.Is(err, io.ErrUnexpectedEOF)
}

// IsForeignKeyViolation reports whether err is a violated FOREIGN KEY constraint.
func IsForeignKeyViolation(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "23503" // foreign_key_violation
	}
	var sqErr *sqlite.Error
	if errors.As(err, &sqErr) {
		return sqErr.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
	}
	return false
}

// classify names err without quoting it: a short error type and the database's own status
// code (SQLSTATE on PostgreSQL, the extended result code on SQLite), if any.
func classify(err error) (errType, status string) {
	var pgErr *pgconn.PgError
	var sqErr *sqlite.Error
	switch {
	case errors.Is(err, context.Canceled):
		return "canceled", ""
	case errors.Is(err, context.DeadlineExceeded):
		return "deadline_exceeded", ""
	case errors.As(err, &pgErr):
		return "postgresql_error", pgErr.Code
	case errors.As(err, &sqErr):
		return "sqlite_error", strconv.Itoa(sqErr.Code())
	default:
		return fmt.Sprintf("%T", err), ""
	}
}
