package storetest

import (
	"database/sql"
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
			p.target = u.Host
			u.Host = p.addr
			c.URL = u.String()
		})...)
		fn(t, db, Outage{Start: p.cut, End: p.restore})
	})
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

func (p *proxy) forward(c net.Conn) {
	up, err := net.Dial("tcp", p.target)
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
