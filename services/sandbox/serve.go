package sandbox

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// ServeOptions say where `irpgate serve --target=sandbox` listens.
type ServeOptions struct {
	// Addr serves NIC1 at "/" and "/irp/nic1", NIC2 at "/irp/nic2"; default 127.0.0.1:8480.
	Addr string
	// NIC2Addr, when set, also serves NIC2 at "/" on its own port.
	NIC2Addr string
	// CertFile and KeyFile switch both listeners to TLS.
	CertFile, KeyFile string
	// Banner receives the listen addresses and the test credentials at start-up (nil: none).
	Banner io.Writer
}

// ListenAndServe runs the sandbox until ctx ends, then shuts down within 5 seconds.
func (s *Sandbox) ListenAndServe(ctx context.Context, o ServeOptions) error {
	if o.Addr == "" {
		o.Addr = "127.0.0.1:8480"
	}
	type srv struct {
		hs *http.Server
		ln net.Listener
	}
	var servers []srv
	listen := func(addr string, h http.Handler) error {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("sandbox: listen %s: %w", addr, err)
		}
		servers = append(servers, srv{&http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}, ln})
		return nil
	}
	if err := listen(o.Addr, s.Handler()); err != nil {
		return err
	}
	if o.NIC2Addr != "" {
		if err := listen(o.NIC2Addr, s.InstanceHandler(NIC2)); err != nil {
			servers[0].ln.Close()
			return err
		}
	}
	scheme := "http"
	if o.CertFile != "" {
		scheme = "https"
	}
	if o.Banner != nil {
		fmt.Fprintf(o.Banner, "IRP sandbox NIC1: %s://%s  NIC2: %s://%s/irp/nic2\n", scheme, servers[0].ln.Addr(), scheme, servers[0].ln.Addr())
		if len(servers) > 1 {
			fmt.Fprintf(o.Banner, "IRP sandbox NIC2 (own port): %s://%s\n", scheme, servers[1].ln.Addr())
		}
		s.PrintCredentials(o.Banner)
	}
	errc := make(chan error, len(servers))
	for _, sv := range servers {
		go func() {
			var err error
			if o.CertFile != "" {
				err = sv.hs.ServeTLS(sv.ln, o.CertFile, o.KeyFile)
			} else {
				err = sv.hs.Serve(sv.ln)
			}
			if errors.Is(err, http.ErrServerClosed) {
				err = nil
			}
			errc <- err
		}()
	}
	var first error
	select {
	case <-ctx.Done():
	case first = <-errc:
	}
	shut, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	for _, sv := range servers {
		_ = sv.hs.Shutdown(shut)
	}
	return first
}

// Flags registers the sandbox's flags on fs, each mirrored by an IRPGATE_SANDBOX_* environment
// variable (the flag wins). Call the returned function after fs.Parse.
func Flags(fs *flag.FlagSet) func() (Config, ServeOptions, error) {
	env := func(name, def string) string {
		if v, ok := os.LookupEnv("IRPGATE_SANDBOX_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))); ok {
			return v
		}
		return def
	}
	str := func(name, def, usage string) *string { return fs.String("sandbox-"+name, env(name, def), usage) }
	addr := str("addr", "127.0.0.1:8480", "sandbox listen address (NIC1 at /, NIC2 at /irp/nic2)")
	nic2 := str("nic2-addr", "", "optional second address serving NIC2 at /")
	cert := str("tls-cert", "", "TLS certificate file (PEM); plain HTTP when empty")
	key := str("tls-key", "", "TLS key file (PEM)")
	dir := str("data-dir", "", "directory keeping the sandbox keys (empty: in memory)")
	master := str("master", "", "taxpayer master JSON file (empty: built-in)")
	tok := str("token-lifetime", "360m", "AuthToken lifetime")
	lag := str("replication-lag", "0s", "NIC1/NIC2 replication lag")
	ret := str("retention-days", "2", "days Get IRN answers before 2283")
	admin := str("admin", "true", "serve /sandbox/admin (loopback callers only)")
	seed := str("seed", "1", "seed of every random choice")
	lat := str("latency", "0s", "latency added to each call")
	jit := str("latency-jitter", "0s", "uniform extra latency")
	errRate := str("error-rate", "0", "probability of an injected 5xx/reset/timeout")
	lost := str("answer-lost-rate", "0", "probability a successful write loses its answer")
	rl := str("rate-limit", "0", "requests per second per instance (0: none)")
	return func() (Config, ServeOptions, error) {
		var cfg Config
		var err error
		d := func(s string) time.Duration {
			v, e := time.ParseDuration(s)
			err = errors.Join(err, e)
			return v
		}
		f := func(s string) float64 {
			v, e := strconv.ParseFloat(s, 64)
			err = errors.Join(err, e)
			return v
		}
		cfg.DataDir = *dir
		cfg.TokenLifetime = d(*tok)
		cfg.ReplicationLag = d(*lag)
		cfg.RetentionDays = int(f(*ret))
		cfg.AdminEnabled = *admin == "true"
		cfg.Seed = uint64(f(*seed))
		cfg.Faults = Faults{
			Latency: Latency{Base: d(*lat), Jitter: d(*jit)}, ErrorRate: f(*errRate), AnswerLostRate: f(*lost),
			RateLimit: f(*rl),
		}
		if *master != "" {
			m, e := LoadMaster(*master)
			if e != nil {
				err = errors.Join(err, e)
			} else {
				cfg.Taxpayers, cfg.Users = m.Taxpayers, m.Users
			}
		}
		return cfg, ServeOptions{Addr: *addr, NIC2Addr: *nic2, CertFile: *cert, KeyFile: *key}, err
	}
}
