package auth

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"

	authv1 "github.com/irpgate/irpgate/gen/go/irpgate/auth/v1"
	"github.com/irpgate/irpgate/internal/callerauth"
	"github.com/irpgate/irpgate/internal/store"
	"github.com/irpgate/irpgate/pkg/irpclient"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Config configures the auth service.
type Config struct {
	DB  *store.DB
	IRP *irpclient.Client
	// MasterKeyFile holds the master key(s) that seal every stored secret;
	// "" uses IRPGATE_MASTER_KEY_FILE, then creates <DataDir>/master.key and
	// says so in the log.
	MasterKeyFile string
	DataDir       string
	// AdminKey is the bootstrap admin API key (from a secret in production);
	// "" makes one when no admin key exists, prints it once to the log and
	// stores only its hash.
	AdminKey string `secret:"true"`
	// TokenTTL is the lifetime of issued caller tokens; 0 means 15 minutes.
	TokenTTL time.Duration
	// Now judges IRP session expiry (tests pass the sandbox's clock). Caller
	// and service tokens always use wall time: moving an IRP clock must not
	// lock callers out.
	Now            func() time.Time
	Logger         *slog.Logger
	TracerProvider trace.TracerProvider

	// ServiceKeyFile holds the key shared by the services for their service
	// tokens; "" uses IRPGATE_SERVICE_KEY_FILE, then <DataDir>/service.key.
	ServiceKeyFile string
	// RefreshWindow: a session is renewed once it has less than this left;
	// 0 means 8 minutes, inside NIC's 10-minute ForceRefresh window with
	// room for clock skew.
	RefreshWindow time.Duration
}

// Service implements authv1.AuthServiceServer.
type Service struct {
	authv1.UnimplementedAuthServiceServer

	db       *store.DB
	irp      irpclient.Authenticator
	keys     *keyring
	now      func() time.Time
	log      *slog.Logger
	tracer   trace.Tracer
	tokenTTL time.Duration

	signer     *tokenSigner
	serviceKey []byte
	revoked    *revocations

	sessions *sessionManager
}

// New opens the vault: it runs the auth migrations, loads (or creates) the
// master key, the token signing key and the service key, and bootstraps the
// first admin API key.
func New(ctx context.Context, cfg Config) (*Service, error) {
	if cfg.DB == nil {
		return nil, errors.New("auth: Config.DB is nil")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.TracerProvider == nil {
		cfg.TracerProvider = otel.GetTracerProvider()
	}
	if cfg.TokenTTL <= 0 {
		cfg.TokenTTL = 15 * time.Minute
	}
	if cfg.RefreshWindow <= 0 {
		cfg.RefreshWindow = 8 * time.Minute
	}
	if err := cfg.DB.Migrate(ctx, "auth", mustSub(migrationFiles, "migrations")); err != nil {
		return nil, fmt.Errorf("auth: migrate: %w", err)
	}
	s := &Service{
		db: cfg.DB, now: cfg.Now, log: cfg.Logger,
		tracer: cfg.TracerProvider.Tracer("irpgate/auth"), tokenTTL: cfg.TokenTTL,
	}
	if cfg.IRP != nil {
		s.irp = cfg.IRP
	}

	path, created, err := resolveMasterKeyFile(cfg.MasterKeyFile, cfg.DataDir)
	if err != nil {
		return nil, err
	}
	if created {
		s.log.WarnContext(ctx, "created a master key for the IRP credentials vault; back it up, and in production give one with IRPGATE_MASTER_KEY_FILE",
			"path", path)
	}
	if s.keys, err = loadKeyring(path); err != nil {
		return nil, err
	}
	if err := s.loadActiveMasterKey(ctx); err != nil {
		return nil, err
	}

	key, keyPath, created, err := callerauth.LoadServiceKey(cfg.ServiceKeyFile, cfg.DataDir)
	if err != nil {
		return nil, err
	}
	if created {
		s.log.WarnContext(ctx, "created the shared service key; every service of this installation must use the same one (IRPGATE_SERVICE_KEY_FILE)",
			"path", keyPath)
	}
	s.serviceKey = key

	if s.signer, err = s.loadTokenSigner(ctx); err != nil {
		return nil, err
	}
	if err := s.bootstrapAdmin(ctx, cfg.AdminKey); err != nil {
		return nil, err
	}
	s.revoked = newRevocations(s.db, s.now, s.tokenTTL)
	if err := s.revoked.load(ctx); err != nil {
		return nil, fmt.Errorf("auth: load revoked API keys: %w", err)
	}
	s.sessions = newSessionManager(s, cfg.RefreshWindow)
	return s, nil
}

// Register registers the AuthService on g.
func (s *Service) Register(g grpc.ServiceRegistrar) { authv1.RegisterAuthServiceServer(g, s) }

// Verifier returns a caller-auth verifier that checks tokens against this
// service's own keys (no network) and accepts service tokens, for the gRPC
// server the auth service runs in.
func (s *Service) Verifier(opts ...callerauth.Option) *callerauth.Verifier {
	opts = append([]callerauth.Option{callerauth.WithServiceKey(s.serviceKey)}, opts...)
	return callerauth.NewVerifier(s.KeySource(), opts...)
}

// KeySource returns the public keys of this service's token signer and the
// API keys revoked within a token's lifetime (a callerauth.RevocationSource).
func (s *Service) KeySource() callerauth.KeySource { return ownKeys{s.signer, s.revoked} }

// ServiceKey is the shared key services sign their service tokens with.
func (s *Service) ServiceKey() []byte { return append([]byte(nil), s.serviceKey...) }

// Setting names in auth_settings.
const (
	settingMasterKey      = "master_key_active"
	settingSigningKey     = "token_signing_key"
	settingBootstrapAdmin = "bootstrap_admin"
)

func (s *Service) loadActiveMasterKey(ctx context.Context) error {
	active, err := s.setting(ctx, s.db, settingMasterKey)
	switch {
	case store.IsNotFound(err):
		if err := s.insertSetting(ctx, s.db, settingMasterKey, s.keys.newest()); err != nil && !store.IsUniqueViolation(err) {
			return err
		}
		return s.loadActiveMasterKey(ctx)
	case err != nil:
		return err
	}
	if err := s.keys.setActive(active); err != nil {
		return fmt.Errorf("%w; the database was sealed with it (add it back, or rotate first)", err)
	}
	return nil
}

func (s *Service) setting(ctx context.Context, q store.Querier, name string) (string, error) {
	var v string
	err := q.QueryRowContext(ctx, `SELECT value FROM auth_settings WHERE name = $1`, name).Scan(&v)
	return v, err
}

func (s *Service) insertSetting(ctx context.Context, q store.Querier, name, value string) error {
	_, err := q.ExecContext(ctx, `INSERT INTO auth_settings (name, value, updated_ms) VALUES ($1, $2, $3)`,
		name, value, s.now().UnixMilli())
	return err
}

func (s *Service) updateSetting(ctx context.Context, q store.Querier, name, value string) error {
	_, err := q.ExecContext(ctx, `UPDATE auth_settings SET value = $1, updated_ms = $2 WHERE name = $3`,
		value, s.now().UnixMilli(), name)
	return err
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
