package storetest

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net"
	"net/url"
	"path/filepath"
	"sync"
	"testing"

	"github.com/irpgate/irpgate/internal/store"
)

// Outage is a database whose writes can be made to fail and to work again, as when the
// PostgreSQL server restarts or the network to it drops, or another process holds SQLite's
// write lock.
type Outage struct {
	// Start makes writes fail (on PostgreSQL, reads as well) until End.
	Start func()
	// End lets them through again.
	End func()
}

// EachWithOutage runs fn as the subtests "sqlite" and "postgres", each with its own empty
// database and the Outage that breaks it: PostgreSQL is reached through a TCP proxy on
// 127.0.0.1 whose connections Start drops (and refuses until End); SQLite has a busy timeout of
// 50 ms, and Start takes its write lock from a connection of its own.
func EachWithOutage(t *testing.T, fn func(t *testing.T, db *store.DB, o Outage), opts ...Option) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "outage.db")
		db := SQLite(t, append(opts, func(c *store.Config) {
			c.URL = "file:" + path + "?_pragma=busy_timeout(50)"
		})...)
		fn(t, db, sqliteOutage(t, path))
	})
	t.Run("postgres", func(t *testing.T) {
		p := newProxy(t)
		db := Postgres(t, append(opts, func(c *store.Config) {
			u, err := url.Parse(c.URL)
			if err != nil {
				t.Fatalf("storetest: %v", err)
			}
			p.setTarget(u.Host)
			u.Host = p.addr
			c.URL = u.String()
		})...)
		fn(t, db, Outage{Start: p.cut, End: p.restore})
	})
}

// ThroughProxy returns the PostgreSQL URL rawURL reached through a TCP proxy on 127.0.0.1,
// and the Outage that cuts it (every connection dropped, new ones refused) and restores it,
// for tests of a whole server whose database goes away.
func ThroughProxy(t testing.TB, rawURL string) (string, Outage) {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatalf("storetest: %v", err)
	}
	p := newProxy(t)
	p.setTarget(u.Host)
	u.Host = p.addr
	return u.String(), Outage{Start: p.cut, End: p.restore}
}

// sqliteOutage holds the write lock of the database file at path during an outage.
func sqliteOutage(t *testing.T, path string) Outage {
	var mu sync.Mutex
	var tx *sql.Tx
	var holder *sql.DB
	end := func() {
		mu.Lock()
		defer mu.Unlock()
		if tx != nil {
			_ = tx.Rollback()
			_ = holder.Close()
			tx, holder = nil, nil
		}
	}
	t.Cleanup(end)
	return Outage{
		Start: func() {
			mu.Lock()
			defer mu.Unlock()
			var err error
			if holder, err = sql.Open("sqlite", "file:"+path+"?_txlock=immediate"); err == nil {
				tx, err = holder.Begin() // BEGIN IMMEDIATE: the write lock, held until End
			}
			if err != nil {
				t.Fatalf("storetest: take the write lock: %v", err)
			}
		},
		End: end,
	}
}

// proxy forwards TCP connections from addr (127.0.0.1) to target; cut drops every
// connection and refuses new ones until restore.
type proxy struct {
	t      testing.TB
	addr   string
	target string

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]bool
}

func newProxy(t testing.TB) *proxy {
	p := &proxy{t: t, conns: map[net.Conn]bool{}}
	p.listen("127.0.0.1:0")
	t.Cleanup(p.cut)
	return p
}

func (p *proxy) listen(addr string) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		p.t.Fatalf("storetest: proxy listen: %v", err)
	}
	p.mu.Lock()
	p.ln, p.addr = ln, ln.Addr().String()
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.forward(c)
		}
	}()
}

// setTarget sets the address the proxy forwards to; the accepting goroutine reads it.
func (p *proxy) setTarget(addr string) {
	p.mu.Lock()
	p.target = addr
	p.mu.Unlock()
}

func (p *proxy) forward(c net.Conn) {
	p.mu.Lock()
	target := p.target
	p.mu.Unlock()
	up, err := net.Dial("tcp", target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	if p.ln == nil { // cut meanwhile
		p.mu.Unlock()
		c.Close()
		up.Close()
		return
	}
	p.conns[c], p.conns[up] = true, true
	p.mu.Unlock()
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		dst.Close()
		src.Close()
	}
	go pipe(up, c)
	pipe(c, up)
}

func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		_ = p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		_ = c.Close()
		delete(p.conns, c)
	}
}

func (p *proxy) restore() {
	p.mu.Lock()
	up := p.ln != nil
	p.mu.Unlock()
	if !up {
		p.listen(p.addr)
	}
}

// EachWithFullDisk runs fn as the subtests "sqlite" and "postgres", each with its own empty
// database and an Outage that fills its disk. On SQLite, Start stops the database file from
// growing (max_page_count) and fills its free pages with a table of its own, so a write that
// needs a new page fails with SQLITE_FULL, "database or disk is full", while one that fits in
// the space left in a page goes through, as on a full disk; End empties that table and lets
// the file grow. On PostgreSQL every INSERT, UPDATE and DELETE on the test's tables fails with
// the server's disk_full error (SQLSTATE 53100), raised by a trigger that Start adds and End
// drops. Reads work throughout.
func EachWithFullDisk(t *testing.T, fn func(t *testing.T, db *store.DB, o Outage), opts ...Option) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) {
		db := SQLite(t, opts...)
		fn(t, db, Outage{
			Start: func() {
				var pages int64
				if err := db.QueryRowContext(t.Context(), "PRAGMA page_count").Scan(&pages); err != nil {
					t.Fatalf("storetest: page count: %v", err)
				}
				mustExec(t, db, "CREATE TABLE IF NOT EXISTS storetest_filler (b BLOB)")
				mustExec(t, db, fmt.Sprintf("PRAGMA max_page_count = %d", pages+1))
				for size := 1 << 16; size > 0; {
					_, err := db.ExecContext(t.Context(), "INSERT INTO storetest_filler VALUES (zeroblob($1))", size)
					switch {
					case store.IsUnavailable(err):
						size /= 2
					case err != nil:
						t.Fatalf("storetest: fill the free pages: %v", err)
					}
				}
			},
			End: func() {
				mustExec(t, db, "DELETE FROM storetest_filler")
				mustExec(t, db, "PRAGMA max_page_count = 4294967294")
			},
		})
	})
	t.Run("postgres", func(t *testing.T) {
		db := Postgres(t, opts...)
		onTables := func(stmt string) string {
			return `DO $$ DECLARE t text; BEGIN
	FOR t IN SELECT tablename FROM pg_tables WHERE schemaname = current_schema() LOOP
		EXECUTE format('` + stmt + `', t);
	END LOOP;
END $$`
		}
		fn(t, db, Outage{
			Start: func() {
				mustExec(t, db, `CREATE OR REPLACE FUNCTION storetest_disk_full() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'could not extend file: No space left on device' USING ERRCODE = 'disk_full';
END $$`)
				mustExec(t, db, onTables(`CREATE TRIGGER storetest_disk_full BEFORE INSERT OR UPDATE OR DELETE ON %I FOR EACH STATEMENT EXECUTE FUNCTION storetest_disk_full()`))
			},
			End: func() { mustExec(t, db, onTables(`DROP TRIGGER IF EXISTS storetest_disk_full ON %I`)) },
		})
	})
}

func mustExec(t *testing.T, db *store.DB, stmt string) {
	t.Helper()
	// t.Context may be done when End runs from a cleanup.
	if _, err := db.ExecContext(context.WithoutCancel(t.Context()), stmt); err != nil {
		t.Fatalf("storetest: %s: %v", stmt, err)
	}
}
