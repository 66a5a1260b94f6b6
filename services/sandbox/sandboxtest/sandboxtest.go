package sandboxtest

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/irpgate/irpgate/services/sandbox"
)

// Server is a running sandbox.
type Server struct {
	URL     string // NIC1 base URL (NIC paths are appended to it)
	NIC2URL string // NIC2 base URL
	*sandbox.Sandbox
	Clock *sandbox.ManualClock
	HTTP  *httptest.Server
}

// Option changes the sandbox configuration.
type Option func(*sandbox.Config)

// WithFaults sets the initial faults.
func WithFaults(f sandbox.Faults) Option { return func(c *sandbox.Config) { c.Faults = f } }

// WithTokenLifetime sets the AuthToken lifetime.
func WithTokenLifetime(d time.Duration) Option {
	return func(c *sandbox.Config) { c.TokenLifetime = d }
}

// WithClock sets the manual clock (default: one frozen at the wall time of Start).
func WithClock(clk *sandbox.ManualClock) Option { return func(c *sandbox.Config) { c.Clock = clk } }

// WithReplicationLag sets the NIC1/NIC2 replication lag (on the sandbox clock).
func WithReplicationLag(d time.Duration) Option {
	return func(c *sandbox.Config) { c.ReplicationLag = d }
}

// WithTaxpayers replaces the GSTIN master (users default to one per taxpayer).
func WithTaxpayers(t []sandbox.Taxpayer) Option { return func(c *sandbox.Config) { c.Taxpayers = t } }

// WithConfig edits the configuration freely.
func WithConfig(f func(*sandbox.Config)) Option { return f }

// Start runs a sandbox with the admin API enabled until the test ends.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	keys, err := sandbox.ProcessKeys()
	if err != nil {
		t.Fatalf("sandbox keys: %v", err)
	}
	cfg := sandbox.Config{Keys: keys, AdminEnabled: true}
	for _, o := range opts {
		o(&cfg)
	}
	clk, _ := cfg.Clock.(*sandbox.ManualClock)
	if cfg.Clock == nil {
		clk = sandbox.NewManualClock(time.Now().Truncate(time.Second))
		cfg.Clock = clk
	}
	sb, err := sandbox.New(cfg)
	if err != nil {
		t.Fatalf("sandbox: %v", err)
	}
	srv := httptest.NewServer(sb.Handler())
	t.Cleanup(srv.Close)
	return &Server{URL: srv.URL, NIC2URL: srv.URL + "/irp/nic2", Sandbox: sb, Clock: clk, HTTP: srv}
}
