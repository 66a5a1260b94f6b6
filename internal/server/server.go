package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"sync"
	"time"

	"go.opentelemetry.io/otel/sdk/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/irpgate/irpgate/internal/platform"
	"github.com/irpgate/irpgate/services/gateway"
)

// Options are what a test (or main) injects besides Config.
type Options struct {
	LogOutput    io.Writer          // os.Stderr when nil
	SpanExporter trace.SpanExporter // in-memory exporter in tests
}

// Server is a running irpgate process.
type Server struct {
	cfg     Config
	roles   []string
	log     *slog.Logger
	tel     *platform.Telemetry
	grpc    *grpc.Server
	local   *platform.Local // the same services, called in process
	health  *health.Server
	http    []*http.Server
	conns   []io.Closer
	closers []func(context.Context) error

	// GRPCAddr, HTTPAddr and SandboxURL are the bound addresses (useful
	// with ":0" ports in tests); empty when the role is not run.
	GRPCAddr   string
	HTTPAddr   string
	SandboxURL string
	// SandboxNIC2URL serves the sandbox's NIC2 at / (--sandbox-nic2-addr; empty without it).
	SandboxNIC2URL string

	wg      sync.WaitGroup
	errc    chan error
	started time.Time
}

// Start binds every listener, starts the roles and marks health SERVING once
// they are ready. Stop with Shutdown.
func Start(ctx context.Context, cfg Config, o Options) (_ *Server, err error) {
	roles, err := cfg.Roles()
	if err != nil {
		return nil, err
	}
	out := o.LogOutput
	if out == nil {
		out = os.Stderr
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		return nil, fmt.Errorf("log-level: %w", err)
	}
	s := &Server{cfg: cfg, roles: roles, log: platform.NewLogger(out, lvl), errc: make(chan error, 8), started: time.Now()}
	defer func() {
		if err != nil {
			_ = s.Shutdown(context.WithoutCancel(ctx))
		}
	}()
	s.tel, err = platform.NewTelemetry(ctx, platform.TelemetryOptions{ServiceName: "irpgate", SpanExporter: o.SpanExporter})
	if err != nil {
		return nil, err
	}
	b := platform.BuildInfo()
	s.log.Info("starting irpgate", "version", b.Version, "revision", b.Revision, "go", b.GoVersion,
		"roles", roles, "config", platform.Redacted(cfg))

	if cfg.DataDir != "" {
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return nil, fmt.Errorf("data-dir: %w", err)
		}
	}

	deps := &deps{s: s}
	if s.has(RoleSandbox) {
		if err := s.startSandbox(ctx, deps); err != nil {
			return nil, fmt.Errorf("sandbox: %w", err)
		}
	}

	if s.hasAny(RoleAuth, RoleEInvoice, RoleEwayBill, RoleGstin) {
		lis, err := net.Listen("tcp", cfg.GRPCAddr)
		if err != nil {
			return nil, fmt.Errorf("grpc-addr: %w", err)
		}
		s.GRPCAddr = lis.Addr().String()
		if err := deps.prepare(ctx); err != nil {
			_ = lis.Close()
			return nil, err
		}
		so := platform.ServerOptions{Logger: s.log, Telemetry: s.tel, Auth: deps.authenticator()}
		s.grpc, s.health = platform.NewGRPCServer(so)
		s.local = platform.NewLocal(so)
		healthpb.RegisterHealthServer(s.local, s.health)
		if err := s.registerServices(ctx, deps); err != nil {
			_ = lis.Close()
			return nil, err
		}
		s.goServe("grpc", func() error { return s.grpc.Serve(lis) })
	}

	if s.has(RoleGateway) {
		var conns gateway.Conns
		for _, c := range []struct {
			role, addr string
			conn       *grpc.ClientConnInterface
			optional   bool // the gateway starts without it; its routes answer 503
		}{
			{RoleAuth, cfg.AuthAddr, &conns.Auth, false},
			{RoleEInvoice, cfg.EInvoiceAddr, &conns.EInvoice, false},
			{RoleEwayBill, cfg.EwayBillAddr, &conns.EwayBill, true},
			{RoleGstin, cfg.GstinAddr, &conns.Gstin, true},
		} {
			if c.optional && c.addr == "" && !s.has(c.role) {
				s.log.Warn("no address for a service the gateway routes to; its routes answer 503", "service", c.role, "flag", "--"+c.role+"-addr")
				*c.conn = notConfigured{role: c.role}
				continue
			}
			if *c.conn, err = s.connTo(c.role, c.addr); err != nil {
				return nil, err
			}
		}
		h, err := gateway.New(ctx, conns, gateway.Options{TracerProvider: s.tel.Tracer, MeterProvider: s.tel.Meter, Registry: s.tel.Registry})
		if err != nil {
			return nil, err
		}
		if err := s.serveHTTP("gateway", cfg.HTTPAddr, h, &s.HTTPAddr); err != nil {
			return nil, err
		}
	}

	// A process without the gateway still answers probes and scrapes on --http-addr.
	if !s.has(RoleGateway) && s.health != nil && cfg.HTTPAddr != "" {
		if err := s.serveHTTP("ops", cfg.HTTPAddr, s.opsHandler(), &s.HTTPAddr); err != nil {
			return nil, err
		}
	}

	if s.health != nil {
		s.watchStore(deps.db, cfg.HealthInterval)
		s.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	}
	s.log.Info("irpgate serving", "grpc", s.GRPCAddr, "http", s.HTTPAddr, "sandbox", s.SandboxURL, "startup", time.Since(s.started).String())
	return s, nil
}

// Wait blocks until ctx is done or a listener fails.
func (s *Server) Wait(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return nil
	case err := <-s.errc:
		return err
	}
}

// Shutdown takes the process down in order: health NOT_SERVING, drain gRPC
// and HTTP (in-flight requests finish) within the deadline, close clients,
// close stores, flush telemetry last.
func (s *Server) Shutdown(ctx context.Context) error {
	timeout := s.cfg.ShutdownTimeout
	if timeout <= 0 {
		timeout = 20 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if s.health != nil {
		s.health.Shutdown()
	}
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	for _, hs := range s.http {
		wg.Go(func() {
			if err := hs.Shutdown(ctx); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	if s.grpc != nil {
		wg.Go(func() {
			done := make(chan struct{})
			go func() { s.grpc.GracefulStop(); close(done) }()
			select {
			case <-done:
			case <-ctx.Done():
				s.grpc.Stop()
			}
		})
	}
	wg.Wait()
	for _, c := range s.conns {
		_ = c.Close()
	}
	for _, c := range slices.Backward(s.closers) {
		errs = append(errs, c(ctx))
	}
	s.wg.Wait()
	if s.tel != nil {
		errs = append(errs, s.tel.Shutdown(ctx))
	}
	return errors.Join(errs...)
}

func (s *Server) has(role string) bool { return slices.Contains(s.roles, role) }

func (s *Server) hasAny(roles ...string) bool {
	return slices.ContainsFunc(roles, s.has)
}

func (s *Server) goServe(name string, serve func() error) {
	s.wg.Go(func() {
		if err := serve(); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, grpc.ErrServerStopped) {
			s.log.Error("listener failed", "listener", name, "error", err)
			s.errc <- fmt.Errorf("%s: %w", name, err)
		}
	})
}

func (s *Server) serveHTTP(name, addr string, h http.Handler, bound *string) error {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("%s listen: %w", name, err)
	}
	*bound = lis.Addr().String()
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	s.http = append(s.http, hs)
	s.goServe(name, func() error { return hs.Serve(lis) })
	return nil
}

// dial connects to a service; every connection carries the same client
// interceptors, also inside one process.
func (s *Server) dial(addr string) (*grpc.ClientConn, error) {
	conn, err := grpc.NewClient(addr, platform.DialOptions(s.tel)...)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	s.conns = append(s.conns, conn)
	return conn, nil
}

// register puts a service on this process's gRPC server and on its
// in-process channel.
func (s *Server) register(desc *grpc.ServiceDesc, impl any) {
	s.grpc.RegisterService(desc, impl)
	s.local.RegisterService(desc, impl)
}

// RegisterService implements grpc.ServiceRegistrar with register.
func (s *Server) RegisterService(desc *grpc.ServiceDesc, impl any) { s.register(desc, impl) }

// connTo is how this process calls a role's service: in process when it runs
// the role, else over gRPC at the configured address.
func (s *Server) connTo(role, configured string) (grpc.ClientConnInterface, error) {
	if s.has(role) && s.local != nil {
		return s.local, nil
	}
	if configured == "" {
		return nil, fmt.Errorf("%s-addr: required when this process does not run the %s role", role, role)
	}
	return s.dial(configured)
}

// notConfigured is the gateway's upstream for a service it has no address for: every
// call answers UNAVAILABLE naming the flag to set.
type notConfigured struct{ role string }

func (n notConfigured) err() error {
	return status.Errorf(codes.Unavailable, "the %s service is not configured on this gateway: set --%s-addr", n.role, n.role)
}

func (n notConfigured) Invoke(context.Context, string, any, any, ...grpc.CallOption) error {
	return n.err()
}

func (n notConfigured) NewStream(context.Context, *grpc.StreamDesc, string, ...grpc.CallOption) (grpc.ClientStream, error) {
	return nil, n.err()
}

// serviceAddr is where a role's gRPC service is reached: this process when
// it runs the role or no address is configured.
func (s *Server) serviceAddr(role, configured string) string {
	if configured == "" || s.has(role) {
		return s.GRPCAddr
	}
	return configured
}
