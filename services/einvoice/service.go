package einvoice

import (
	"context"
	"crypto/x509"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"

	einvoicev1 "github.com/irpgate/irpgate/gen/go/irpgate/einvoice/v1"
	"github.com/irpgate/irpgate/internal/platform"
	"github.com/irpgate/irpgate/internal/store"
	"github.com/irpgate/irpgate/pkg/irpclient"
	"github.com/irpgate/irpgate/pkg/irpcrypto"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Config is what the service needs from the process.
type Config struct {
	DB *store.DB
	// IRP is the shared client, with its SessionSource set.
	IRP *irpclient.Client
	// Certificates are the IRP signing certificates SignedInvoice and SignedQRCode
	// are verified against.
	Certificates []*x509.Certificate
	// DefaultIRP is where documents go when a request names none; the client's default if empty.
	DefaultIRP string
	// AcceptSandboxGSTINs lets NIC's sandbox test GSTINs (bad check digits) through validation.
	AcceptSandboxGSTINs bool
	Now                 func() time.Time
	Logger              *slog.Logger
	TracerProvider      trace.TracerProvider
	// MeterProvider gets the service's metrics (documents whose IRP outcome is unknown,
	// documents settled); nil means the global provider.
	MeterProvider metric.MeterProvider

	// Failover sends a document that names no IRP to the other NIC IRP when its own cannot
	// be reached, and a cancellation there criss-cross (failover.go); it needs both NIC1 and
	// NIC2 configured on IRP.
	Failover bool

	// MaxAttempts bounds the sends of one document inside GenerateIrn when answers get lost;
	// 0 means 12. RetryBaseDelay (0 means 100ms) doubles per attempt up to RetryMaxDelay
	// (0 means 2 s).
	MaxAttempts    int
	RetryBaseDelay time.Duration
	RetryMaxDelay  time.Duration

	// IdempotencyTTL is how long an Idempotency-Key binds its body: an older key counts as
	// unused (the next request with it is taken as new), and SweepIdempotencyKeys deletes
	// it. 0 means 24 hours.
	IdempotencyTTL time.Duration
	// SweepInterval is how often Run sweeps expired Idempotency-Keys; 0 means 1 hour.
	SweepInterval time.Duration
	// SettleInterval is how often Run asks the IRP about documents whose outcome stayed
	// unknown (SettlePending); 0 means 1 minute.
	SettleInterval time.Duration
	// ProbeInterval is how often Run asks each IRP's heartbeat (ProbeIRPs); 0 means 15 s,
	// negative never.
	ProbeInterval time.Duration
}

// Service implements irpgate.einvoice.v1.EInvoiceService.
type Service struct {
	einvoicev1.UnsafeEInvoiceServiceServer

	cfg      Config
	irp      *irpclient.Client
	verifier *irpcrypto.Verifier // of cfg.Certificates
	docs     *documents
	log      *slog.Logger
	tracer   trace.Tracer
	now      func() time.Time
	locks    keyedMutex
	// unsettled are the documents whose IRP outcome GenerateIrn left unknown.
	unsettled unsettled
	settled   metric.Int64Counter // documents SettlePending settled
	// health says which IRPs were found unreachable lately (failover).
	health    irpHealth
	failovers metric.Int64Counter // documents moved to the other NIC IRP
}

var _ einvoicev1.EInvoiceServiceServer = (*Service)(nil)

// New checks cfg and runs the service's migrations.
func New(ctx context.Context, cfg Config) (*Service, error) {
	if cfg.DB == nil {
		return nil, errors.New("einvoice: Config.DB is nil")
	}
	if cfg.IRP == nil {
		return nil, errors.New("einvoice: Config.IRP is nil")
	}
	if len(cfg.Certificates) == 0 {
		return nil, errors.New("einvoice: Config.Certificates is empty: signed answers could not be verified")
	}
	verifier, err := irpcrypto.NewVerifier(cfg.Certificates)
	if err != nil {
		return nil, fmt.Errorf("einvoice: Config.Certificates: %w", err)
	}
	if cfg.DefaultIRP == "" {
		cfg.DefaultIRP = cfg.IRP.DefaultIRP()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.TracerProvider == nil {
		cfg.TracerProvider = otel.GetTracerProvider()
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 12
	}
	if cfg.RetryBaseDelay <= 0 {
		cfg.RetryBaseDelay = 100 * time.Millisecond
	}
	if cfg.RetryMaxDelay <= 0 {
		cfg.RetryMaxDelay = 2 * time.Second
	}
	if cfg.IdempotencyTTL <= 0 {
		cfg.IdempotencyTTL = 24 * time.Hour
	}
	if cfg.SweepInterval <= 0 {
		cfg.SweepInterval = time.Hour
	}
	if cfg.SettleInterval <= 0 {
		cfg.SettleInterval = time.Minute
	}
	if cfg.ProbeInterval == 0 {
		cfg.ProbeInterval = 15 * time.Second
	}
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	if err := cfg.DB.Migrate(ctx, "einvoice", sub); err != nil {
		return nil, err
	}
	s := &Service{
		cfg:      cfg,
		irp:      cfg.IRP,
		verifier: verifier,
		docs:     &documents{db: cfg.DB, now: cfg.Now, keyTTL: cfg.IdempotencyTTL},
		log:      cfg.Logger,
		tracer:   cfg.TracerProvider.Tracer("irpgate/einvoice"),
		now:      cfg.Now,
		locks:    keyedMutex{m: map[string]*keyedEntry{}},
	}
	if err := s.initMetrics(); err != nil {
		return nil, err
	}
	return s, nil
}

// initMetrics sets up the service's metrics on cfg.MeterProvider. An operator alerts on
// einvoice_unsettled_documents staying above zero: the IRP's answers for those documents
// were lost and asking it again keeps failing.
func (s *Service) initMetrics() error {
	mp := s.cfg.MeterProvider
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	m := mp.Meter("irpgate/einvoice")
	var err error
	if s.settled, err = m.Int64Counter("einvoice.settled_documents", metric.WithUnit("{document}"),
		metric.WithDescription("Documents whose IRP outcome was unknown and that the background settling has since settled (stored as registered or cancelled, or marked failed).")); err != nil {
		return fmt.Errorf("einvoice: metrics: %w", err)
	}
	if s.failovers, err = m.Int64Counter("einvoice.irp_failovers", metric.WithUnit("{document}"),
		metric.WithDescription("Documents, cancellations and reads sent to the other NIC IRP because their own could not be reached.")); err != nil {
		return fmt.Errorf("einvoice: metrics: %w", err)
	}
	_, err = m.Int64ObservableGauge("einvoice.irp_up",
		metric.WithDescription("1 while an IRP counts as reachable, 0 for a while after its heartbeat or a document could not reach it."),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			now := s.now()
			for _, irp := range s.irp.IRPs() {
				up := int64(1)
				if s.health.isDown(irp, now) {
					up = 0
				}
				o.Observe(up, metric.WithAttributes(attribute.String("irp", irp)))
			}
			return nil
		}))
	if err != nil {
		return fmt.Errorf("einvoice: metrics: %w", err)
	}
	_, err = m.Int64ObservableGauge("einvoice.unsettled_documents", metric.WithUnit("{document}"),
		metric.WithDescription("Documents whose IRP outcome is unknown (answers lost, or the database down when the IRP answered), waiting for the background settling."),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			o.Observe(int64(s.unsettled.len()))
			return nil
		}))
	if err != nil {
		return fmt.Errorf("einvoice: metrics: %w", err)
	}
	return nil
}

// Register puts the service on g.
func (s *Service) Register(g grpc.ServiceRegistrar) {
	einvoicev1.RegisterEInvoiceServiceServer(g, s)
}

// SweepIdempotencyKeys deletes the Idempotency-Keys older than IdempotencyTTL and reports
// how many it deleted. Run calls it every SweepInterval.
func (s *Service) SweepIdempotencyKeys(ctx context.Context) (int64, error) {
	return s.docs.sweepKeys(ctx)
}

// Run does the service's background work until ctx ends, then returns nil: it sweeps
// expired Idempotency-Keys at once and every SweepInterval after, looks for documents an
// earlier run left pending when it starts and once more staleAfter later, and settles
// documents whose outcome was unknown every SettleInterval, and once more when ctx ends.
// A failed round or look is logged and tried again at the next interval.
func (s *Service) Run(ctx context.Context) error {
	sweep := time.NewTicker(s.cfg.SweepInterval)
	defer sweep.Stop()
	settle := time.NewTicker(s.cfg.SettleInterval)
	defer settle.Stop()
	// A process killed just before this one started (a crash, then a restart within
	// seconds) left rows too fresh for the start-up scan: look once more when they are stale.
	started := s.now()
	scans := staleScans{started, started.Add(staleAfter)}
	s.sweep(ctx)
	scans.run(ctx, s)
	var probe <-chan time.Time
	if s.cfg.ProbeInterval > 0 {
		t := time.NewTicker(s.cfg.ProbeInterval)
		defer t.Stop()
		probe = t.C
		s.ProbeIRPs(ctx)
	}
	for {
		select {
		case <-ctx.Done():
			s.settleOnStop(ctx)
			return nil
		case <-sweep.C:
			s.sweep(ctx)
		case <-probe:
			s.ProbeIRPs(ctx)
		case <-settle.C:
			scans.run(ctx, s)
			n, err := s.SettlePending(ctx)
			if err != nil && ctx.Err() == nil {
				s.log.WarnContext(ctx, "settling documents whose outcome was unknown", "settled", n, "error", err.Error())
			}
		}
	}
}

// staleScans are the times, in order, at which Run is to look for documents an earlier
// process left PENDING.
type staleScans []time.Time

// run makes the look that is due, if one is, and drops every time it covered. A look that
// fails stays due, so a database that was down when the process started (a pod starting
// before its PostgreSQL) does not leave those documents PENDING until the next restart.
func (sc *staleScans) run(ctx context.Context, s *Service) {
	now := s.now()
	if len(*sc) == 0 || now.Before((*sc)[0]) || !s.findStale(ctx) {
		return
	}
	for len(*sc) > 0 && !now.Before((*sc)[0]) {
		*sc = (*sc)[1:]
	}
}

// findStale adds the documents left PENDING by an earlier process to those to settle, and
// reports whether it could look.
func (s *Service) findStale(ctx context.Context) bool {
	n, err := s.FindStalePending(ctx)
	switch {
	case err != nil:
		if ctx.Err() == nil {
			s.log.WarnContext(ctx, "looking for documents left pending failed; looking again at the next settle round", "error", err.Error())
		}
		return false
	case n > 0:
		s.log.InfoContext(ctx, "documents left pending by an earlier run will be settled with the IRP", "documents", n)
	}
	return true
}

func (s *Service) sweep(ctx context.Context) {
	n, err := s.SweepIdempotencyKeys(ctx)
	switch {
	case err != nil && ctx.Err() == nil:
		s.log.WarnContext(ctx, "sweeping expired idempotency keys failed", "error", err.Error())
	case err == nil:
		s.log.DebugContext(ctx, "swept expired idempotency keys", "deleted", n)
	}
}

// RPCs designed but not built yet.

func (s *Service) GenerateIrnAsync(context.Context, *einvoicev1.GenerateIrnAsyncRequest) (*einvoicev1.GenerateIrnAsyncResponse, error) {
	return nil, platform.Unimplemented("GenerateIrnAsync")
}

func (s *Service) BulkGenerateIrn(context.Context, *einvoicev1.BulkGenerateIrnRequest) (*einvoicev1.BulkGenerateIrnResponse, error) {
	return nil, platform.Unimplemented("BulkGenerateIrn")
}

func (s *Service) BulkCancelIrn(context.Context, *einvoicev1.BulkCancelIrnRequest) (*einvoicev1.BulkCancelIrnResponse, error) {
	return nil, platform.Unimplemented("BulkCancelIrn")
}

func (s *Service) GetTask(context.Context, *einvoicev1.GetTaskRequest) (*einvoicev1.GetTaskResponse, error) {
	return nil, platform.Unimplemented("GetTask")
}

func (s *Service) DownloadTask(context.Context, *einvoicev1.DownloadTaskRequest) (*einvoicev1.DownloadTaskResponse, error) {
	return nil, platform.Unimplemented("DownloadTask")
}

func (s *Service) GetEnablementStatus(context.Context, *einvoicev1.GetEnablementStatusRequest) (*einvoicev1.GetEnablementStatusResponse, error) {
	return nil, platform.Unimplemented("GetEnablementStatus")
}

func (s *Service) ListBuyerInvoices(context.Context, *einvoicev1.ListBuyerInvoicesRequest) (*einvoicev1.ListBuyerInvoicesResponse, error) {
	return nil, platform.Unimplemented("ListBuyerInvoices")
}

// keyedMutex serialises work on one document inside the process, so concurrent requests
// for it make one IRP call and the others answer from the store. Across replicas the
// pending row and the IRP's DUPIRN keep it correct, only with an extra call.
type keyedMutex struct {
	mu sync.Mutex
	m  map[string]*keyedEntry
}

type keyedEntry struct {
	ch   chan struct{}
	refs int
}

// lock takes the lock of key, or gives up when ctx ends.
func (k *keyedMutex) lock(ctx context.Context, key string) (unlock func(), err error) {
	k.mu.Lock()
	e := k.m[key]
	if e == nil {
		e = &keyedEntry{ch: make(chan struct{}, 1)}
		k.m[key] = e
	}
	e.refs++
	k.mu.Unlock()
	release := func() {
		k.mu.Lock()
		e.refs--
		if e.refs == 0 {
			delete(k.m, key)
		}
		k.mu.Unlock()
	}
	select {
	case e.ch <- struct{}{}:
		return func() { <-e.ch; release() }, nil
	case <-ctx.Done():
		release()
		return nil, ctx.Err()
	}
}
