package server

import (
	"cmp"
	"context"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	authv1 "github.com/irpgate/irpgate/gen/go/irpgate/auth/v1"
	ewaybillv1 "github.com/irpgate/irpgate/gen/go/irpgate/ewaybill/v1"
	gstinv1 "github.com/irpgate/irpgate/gen/go/irpgate/gstin/v1"
	"github.com/irpgate/irpgate/internal/callerauth"
	"github.com/irpgate/irpgate/internal/platform"
	"github.com/irpgate/irpgate/internal/sessions"
	"github.com/irpgate/irpgate/internal/store"
	"github.com/irpgate/irpgate/pkg/irpclient"
	"github.com/irpgate/irpgate/pkg/irpcrypto"
	"github.com/irpgate/irpgate/services/auth"
	"github.com/irpgate/irpgate/services/einvoice"
	"github.com/irpgate/irpgate/services/sandbox"
)

// deps holds what roles share inside one process (the store, the IRP
// settings, the caller-auth verifier), built on first use.
type deps struct {
	s       *Server
	sandbox *sandbox.Sandbox

	dbOnce sync.Once
	db     *store.DB
	dbErr  error

	auth       *auth.Service // when this process runs the auth role
	serviceKey []byte        // shared by every service to call auth
	verifier   platform.Authenticator
	irp        *irpclient.Client
}

// prepare builds what must exist before the gRPC server: the auth service
// (its verifier guards the server) and the service key.
func (d *deps) prepare(ctx context.Context) error {
	s := d.s
	key, path, created, err := callerauth.LoadServiceKey(os.Getenv("IRPGATE_SERVICE_KEY_FILE"), s.cfg.DataDir)
	if err != nil {
		return fmt.Errorf("service key: %w", err)
	}
	if created {
		s.log.Info("created the service key shared by irpgate services", "path", path)
	}
	d.serviceKey = key
	if s.has(RoleAuth) {
		db, err := d.store(ctx)
		if err != nil {
			return err
		}
		irp, err := d.irpClient()
		if err != nil {
			return err
		}
		d.auth, err = auth.New(ctx, auth.Config{
			DB: db, IRP: irp, MasterKeyFile: s.cfg.MasterKeyFile, DataDir: s.cfg.DataDir,
			AdminKey: s.cfg.AdminKey, ServiceKeyFile: path,
			Logger: s.log.With("role", RoleAuth), TracerProvider: s.tel.Tracer,
		})
		if err != nil {
			return fmt.Errorf("auth: %w", err)
		}
		d.verifier = d.auth.Verifier(callerauth.WithServiceKey(key), callerauth.WithAPIKeys(callerauth.NewAPIKeys(d.auth)))
		return d.registerSandboxUsers(ctx)
	}
	conn, err := s.dial(s.serviceAddr(RoleAuth, s.cfg.AuthAddr))
	if err != nil {
		return err
	}
	d.verifier = callerauth.NewVerifier(callerauth.GRPCKeySource(conn), callerauth.WithServiceKey(key),
		callerauth.WithAPIKeys(callerauth.NewAPIKeys(callerauth.GRPCTokenIssuer(conn))))
	return nil
}

func (d *deps) authenticator() platform.Authenticator { return d.verifier }

// irpClient is the one NIC client of the process, without a session source;
// each service adds its own with WithSessions.
func (d *deps) irpClient() (*irpclient.Client, error) {
	if d.irp != nil {
		return d.irp, nil
	}
	urls, err := d.irpURLs()
	if err != nil {
		return nil, err
	}
	key, err := d.irpPublicKey()
	if err != nil {
		return nil, err
	}
	keys := map[string]*rsa.PublicKey{}
	for name := range urls {
		keys[name] = key
	}
	d.irp, err = irpclient.New(irpclient.Config{
		BaseURLs: urls, DefaultIRP: d.s.cfg.DefaultIRP, PublicKeys: keys,
		TracerProvider: d.s.tel.Tracer, MeterProvider: d.s.tel.Meter,
	})
	return d.irp, err
}

// store opens the process's database once: SQLite in the data directory, or
// PostgreSQL when --database-url is a postgres URL.
func (d *deps) store(ctx context.Context) (*store.DB, error) {
	d.dbOnce.Do(func() {
		d.db, d.dbErr = store.Open(ctx, store.Config{URL: d.s.cfg.DatabaseURL, DataDir: d.s.cfg.DataDir, TracerProvider: d.s.tel.Tracer})
		if d.dbErr == nil {
			d.s.closers = append(d.s.closers, func(context.Context) error { return d.db.Close() })
		}
	})
	return d.db, d.dbErr
}

// irpURLs are the IRP base URLs: --irp-urls, or the in-process sandbox's
// two instances.
func (d *deps) irpURLs() (map[string]string, error) {
	out := map[string]string{}
	if d.s.cfg.IRPURLs != "" {
		for pair := range strings.SplitSeq(d.s.cfg.IRPURLs, ",") {
			name, url, ok := strings.Cut(strings.TrimSpace(pair), "=")
			if !ok || name == "" || url == "" {
				return nil, fmt.Errorf("irp-urls: %q is not NAME=URL", pair)
			}
			out[strings.ToUpper(name)] = url
		}
		return out, nil
	}
	if d.sandbox == nil {
		return nil, errors.New("irp-urls: required when the sandbox role is not run in this process")
	}
	out["NIC1"] = d.s.SandboxURL
	out["NIC2"] = d.s.SandboxURL + "/irp/nic2"
	out["SANDBOX"] = d.s.SandboxURL
	return out, nil
}

// irpPublicKey is the IRP's auth encryption key: --irp-public-key-file or the sandbox's.
func (d *deps) irpPublicKey() (*rsa.PublicKey, error) {
	if f := d.s.cfg.IRPKeyFile; f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("irp-public-key-file: %w", err)
		}
		return irpcrypto.ParsePublicKey(b)
	}
	if d.sandbox == nil {
		return nil, errors.New("irp-public-key-file: required when the sandbox role is not run in this process")
	}
	return d.sandbox.PublicKey(), nil
}

// irpCertificates verify SignedInvoice and SignedQRCode: --irp-cert-file or the sandbox's.
func (d *deps) irpCertificates() ([]*x509.Certificate, error) {
	if f := d.s.cfg.IRPCertFile; f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("irp-cert-file: %w", err)
		}
		return irpcrypto.ParseCertificates(b)
	}
	if d.sandbox == nil {
		return nil, errors.New("irp-cert-file: required when the sandbox role is not run in this process")
	}
	return []*x509.Certificate{d.sandbox.Certificate()}, nil
}

// sandboxConfig is the sandbox's configuration from the --sandbox-* flags; every value that
// cannot be applied is named with its flag.
func (c Config) sandboxConfig() (sandbox.Config, error) {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	for flag, v := range map[string]float64{"sandbox-error-rate": c.SandboxErrorRate, "sandbox-answer-lost-rate": c.SandboxAnswerLostRate} {
		if !(v >= 0 && v <= 1) {
			bad("%s: %v is not a probability from 0 to 1", flag, v)
		}
	}
	if !(c.SandboxRateLimit >= 0) {
		bad("sandbox-rate-limit: %v must not be negative", c.SandboxRateLimit)
	}
	for flag, v := range map[string]time.Duration{
		"sandbox-token-lifetime":  c.SandboxTokenLifetime,
		"sandbox-replication-lag": c.SandboxReplicationLag, "sandbox-latency": c.SandboxLatency,
		"sandbox-latency-jitter": c.SandboxLatencyJitter,
	} {
		if v < 0 {
			bad("%s: %v must not be negative", flag, v)
		}
	}
	if c.SandboxRetentionDays < 0 {
		bad("sandbox-retention-days: %d must not be negative", c.SandboxRetentionDays)
	}
	if c.SandboxSeed < 0 {
		bad("sandbox-seed: %d must not be negative", c.SandboxSeed)
	}
	cfg := sandbox.Config{
		DataDir:        cmp.Or(c.SandboxDataDir, filepath.Join(c.DataDir, "sandbox")),
		TokenLifetime:  c.SandboxTokenLifetime,
		ReplicationLag: c.SandboxReplicationLag,
		RetentionDays:  c.SandboxRetentionDays,
		AdminEnabled:   c.SandboxAdmin,
		Seed:           uint64(max(c.SandboxSeed, 0)),
		Faults: sandbox.Faults{
			Latency:   sandbox.Latency{Base: c.SandboxLatency, Jitter: c.SandboxLatencyJitter},
			ErrorRate: c.SandboxErrorRate, AnswerLostRate: c.SandboxAnswerLostRate, RateLimit: c.SandboxRateLimit,
		},
	}
	if c.SandboxMaster != "" {
		m, err := sandbox.LoadMaster(c.SandboxMaster)
		if err != nil {
			bad("sandbox-master: %w", err)
		} else {
			cfg.Taxpayers, cfg.Users = m.Taxpayers, m.Users
		}
	}
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return cfg, errors.Join(errs...)
}

func (s *Server) startSandbox(_ context.Context, d *deps) error {
	cfg, err := s.cfg.sandboxConfig()
	if err != nil {
		return err
	}
	cfg.Logger = s.log.With("role", RoleSandbox)
	sb, err := sandbox.New(cfg)
	if err != nil {
		return err
	}
	d.sandbox = sb
	s.closers = append(s.closers, func(context.Context) error { return sb.Close() })
	if err := s.serveHTTP(RoleSandbox, s.cfg.SandboxAddr, sb.Handler(), &s.SandboxURL); err != nil {
		return err
	}
	s.SandboxURL = "http://" + s.SandboxURL
	if s.cfg.SandboxNIC2Addr != "" {
		if err := s.serveHTTP(RoleSandbox+" NIC2", s.cfg.SandboxNIC2Addr, sb.InstanceHandler(sandbox.NIC2), &s.SandboxNIC2URL); err != nil {
			return err
		}
		s.SandboxNIC2URL = "http://" + s.SandboxNIC2URL
	}
	var creds strings.Builder
	sb.PrintCredentials(&creds)
	s.log.Info("sandbox IRP test credentials (public test data, not secrets)", "url", s.SandboxURL, "users", creds.String())
	return nil
}

// registerServices puts this process's services on its gRPC server. RPCs of
// roles not built yet answer UNIMPLEMENTED (HTTP 501).
func (s *Server) registerServices(ctx context.Context, d *deps) error {
	if d.auth != nil {
		d.auth.Register(s)
	}
	if s.has(RoleEInvoice) {
		db, err := d.store(ctx)
		if err != nil {
			return err
		}
		irp, err := d.irpClient()
		if err != nil {
			return err
		}
		certs, err := d.irpCertificates()
		if err != nil {
			return err
		}
		authConn, err := s.connTo(RoleAuth, s.cfg.AuthAddr)
		if err != nil {
			return err
		}
		src := sessions.NewAuthSource(authConn, callerauth.ServiceCredentials(d.serviceKey, RoleEInvoice))
		svc, err := einvoice.New(ctx, einvoice.Config{
			DB: db, IRP: irp.WithSessions(src), Certificates: certs, DefaultIRP: s.cfg.DefaultIRP,
			AcceptSandboxGSTINs: s.cfg.AcceptTestGSTIN || (d.sandbox != nil && s.cfg.IRPURLs == ""),
			Logger:              s.log.With("role", RoleEInvoice), TracerProvider: s.tel.Tracer, MeterProvider: s.tel.Meter,
			IdempotencyTTL: s.cfg.IdempotencyTTL, Failover: s.cfg.IRPFailover, ProbeInterval: never(s.cfg.IRPHeartbeat),
		})
		if err != nil {
			return fmt.Errorf("einvoice: %w", err)
		}
		svc.Register(s)
		// Expired Idempotency-Keys are swept in the background until shutdown.
		sweepCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
		done := make(chan struct{})
		go func() { defer close(done); _ = svc.Run(sweepCtx) }()
		s.closers = append(s.closers, func(context.Context) error { stop(); <-done; return nil })
	}
	if s.has(RoleEwayBill) {
		ewaybillv1.RegisterEwayBillServiceServer(s, ewaybillv1.UnimplementedEwayBillServiceServer{})
	}
	if s.has(RoleGstin) {
		gstinv1.RegisterGstinServiceServer(s, gstinv1.UnimplementedGstinServiceServer{})
	}
	return nil
}

// registerSandboxUsers puts the in-process sandbox's test users into the
// vault (NIC1 and NIC2) unless credentials for them exist, so that the
// embedded default can register an invoice right after start-up.
func (d *deps) registerSandboxUsers(ctx context.Context) error {
	if d.sandbox == nil || d.s.cfg.IRPURLs != "" {
		return nil
	}
	admin := callerauth.NewContext(ctx, callerauth.Caller{Tenant: "irpgate", Admin: true, Service: true})
	have, err := d.auth.ListCredentials(admin, &authv1.ListCredentialsRequest{})
	if err != nil {
		return err
	}
	known := map[string]bool{}
	for _, c := range have.GetCredentials() {
		known[c.GetGstin()+"/"+c.GetIrp()] = true
	}
	n := 0
	for _, u := range d.sandbox.Users() {
		for _, irp := range []string{"NIC1", "NIC2"} {
			if known[u.GSTIN+"/"+irp] {
				continue
			}
			if _, err := d.auth.RegisterCredential(admin, &authv1.RegisterCredentialRequest{
				Gstin: u.GSTIN, Irp: irp, ClientId: u.ClientID, ClientSecret: u.ClientSecret,
				Username: u.UserName, Password: u.Password,
			}); err != nil {
				return fmt.Errorf("register sandbox user %s: %w", u.GSTIN, err)
			}
			n++
		}
	}
	if n > 0 {
		d.s.log.Info("registered the sandbox's test users in the credential vault", "credentials", n)
	}
	return nil
}

// never maps a flag's 0 ("never") to a negative interval, which the services read as never
// (their own 0 means their default).
func never(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}
