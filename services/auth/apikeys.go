package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/timestamppb"

	authv1 "github.com/irpgate/irpgate/gen/go/irpgate/auth/v1"
	errorsv1 "github.com/irpgate/irpgate/gen/go/irpgate/errors/v1"
	"github.com/irpgate/irpgate/internal/callerauth"
	"github.com/irpgate/irpgate/internal/platform"
	"github.com/irpgate/irpgate/internal/store"
	doc "github.com/irpgate/irpgate/pkg/einvoice"
)

// APIKeyHeader is the metadata key (and REST header) IssueToken reads the key from.
const APIKeyHeader = callerauth.APIKeyHeader

// apiKeyPrefix marks the keys irpgate makes, so secret scanners can spot them.
const apiKeyPrefix = "irpg_"

var (
	gstinPattern = regexp.MustCompile(`^[0-9]{2}[A-Z0-9]{13}$`)
	panPattern   = regexp.MustCompile(`^[A-Z]{5}[0-9]{4}[A-Z]$`)
)

type apiKey struct {
	id, tenant     string
	gstins, pans   []string
	admin          bool
	created, revok time.Time
}

func (k apiKey) proto() *authv1.ApiKeyInfo {
	out := &authv1.ApiKeyInfo{
		KeyId: k.id, Tenant: k.tenant, Gstins: k.gstins, Pans: k.pans, Admin: k.admin,
		CreateTime: timestamppb.New(k.created),
	}
	if !k.revok.IsZero() {
		out.RevokeTime = timestamppb.New(k.revok)
	}
	return out
}

// hashAPIKey is SHA-256: API keys are 256-bit random strings (or an
// operator's secret), so a slow password hash would add nothing but latency.
func hashAPIKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

func newAPIKey() (id, key string, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", "", err
	}
	return "ak_" + randomHex(8), apiKeyPrefix + base64.RawURLEncoding.EncodeToString(b), nil
}

func (s *Service) insertAPIKey(ctx context.Context, q store.Querier, k apiKey, hash string) error {
	admin := 0
	if k.admin {
		admin = 1
	}
	_, err := q.ExecContext(ctx, `INSERT INTO auth_api_keys (key_id, tenant, key_hash, gstins, pans, admin, created_ms)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		k.id, k.tenant, hash, strings.Join(k.gstins, ","), strings.Join(k.pans, ","), admin, k.created.UnixMilli())
	return err
}

const apiKeyColumns = `key_id, tenant, gstins, pans, admin, created_ms, revoked_ms` //nolint:gosec // G101: a SQL column list, not a credential (key_hash is not among them)

type scanner interface{ Scan(dest ...any) error }

func scanAPIKey(r scanner) (apiKey, error) {
	var k apiKey
	var gstins, pans string
	var admin, created, revoked int64
	if err := r.Scan(&k.id, &k.tenant, &gstins, &pans, &admin, &created, &revoked); err != nil {
		return k, err
	}
	k.gstins, k.pans, k.admin = splitList(gstins), splitList(pans), admin != 0
	k.created = time.UnixMilli(created).UTC()
	if revoked != 0 {
		k.revok = time.UnixMilli(revoked).UTC()
	}
	return k, nil
}

func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// bootstrapAdmin makes sure an admin can get in: the configured admin key is
// registered (by hash), or, with none configured and no admin key in the
// database, one replica makes a key and prints it once.
func (s *Service) bootstrapAdmin(ctx context.Context, configured string) error {
	now := s.now()
	if configured != "" {
		if len(configured) < 20 {
			return fmt.Errorf("auth: the admin key must be at least 20 characters")
		}
		hash := hashAPIKey(configured)
		var n int
		if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM auth_api_keys WHERE key_hash = $1`, hash).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
		k := apiKey{id: "ak_admin_" + hash[:8], tenant: "admin", admin: true, created: now}
		if err := s.insertAPIKey(ctx, s.db, k, hash); err != nil && !store.IsUniqueViolation(err) {
			return fmt.Errorf("auth: register admin key: %w", err)
		}
		return nil
	}
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM auth_api_keys WHERE admin = 1 AND revoked_ms = 0`).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	var key string
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		// The marker row makes exactly one replica create the key.
		if err := s.insertSetting(ctx, tx, settingBootstrapAdmin, now.UTC().Format(time.RFC3339)); err != nil {
			return err
		}
		id, k, err := newAPIKey()
		if err != nil {
			return err
		}
		key = k
		return s.insertAPIKey(ctx, tx, apiKey{id: id, tenant: "admin", admin: true, created: now}, hashAPIKey(k))
	})
	switch {
	case store.IsUniqueViolation(err):
		return nil
	case err != nil:
		return fmt.Errorf("auth: bootstrap admin key: %w", err)
	}
	// Shown once by design: this is the only way into a fresh installation.
	s.log.WarnContext(ctx, "created the first admin API key; it is shown only this once, keep it in a secret store (set IRPGATE_ADMIN_KEY in production)",
		"admin_api_key", key)
	return nil
}

// normalizeList upper-cases, de-duplicates and sorts in, and lists each entry that does not
// match pattern as a violation of field[i].
func normalizeList(in []string, pattern *regexp.Regexp, field, what string) ([]string, []platform.FieldViolation) {
	out := make([]string, 0, len(in))
	var vs []platform.FieldViolation
	for i, v := range in {
		v = strings.ToUpper(strings.TrimSpace(v))
		if !pattern.MatchString(v) {
			vs = append(vs, platform.FieldViolation{
				Field: fmt.Sprintf("%s[%d]", field, i), Reason: doc.ReasonInvalidFormat,
				Description: fmt.Sprintf("%q is not a valid %s", v, what),
			})
			continue
		}
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	slices.Sort(out)
	return out, vs
}

// CreateApiKey implements authv1.AuthServiceServer.
func (s *Service) CreateApiKey(ctx context.Context, req *authv1.CreateApiKeyRequest) (*authv1.CreateApiKeyResponse, error) {
	if err := callerauth.RequireAdmin(ctx); err != nil {
		return nil, err
	}
	// Everything wrong with the request is reported at once.
	var vs []platform.FieldViolation
	tenant := strings.TrimSpace(req.GetTenant())
	if tenant == "" {
		vs = append(vs, platform.FieldViolation{Field: "tenant", Reason: doc.ReasonRequired, Description: "tenant is required"})
	}
	gstins, bad := normalizeList(req.GetGstins(), gstinPattern, "gstins", "GSTIN")
	vs = append(vs, bad...)
	pans, bad := normalizeList(req.GetPans(), panPattern, "pans", "PAN")
	vs = append(vs, bad...)
	if !req.GetAdmin() && len(req.GetGstins()) == 0 && len(req.GetPans()) == 0 {
		vs = append(vs, platform.FieldViolation{
			Field: "gstins", Reason: doc.ReasonRequired,
			Description: "a key that is not admin must list at least one GSTIN or PAN",
		})
	}
	if len(vs) > 0 {
		return nil, platform.Status(codes.InvalidArgument, errorsv1.ErrorReason_ERROR_REASON_INVALID_REQUEST,
			"the API key request is invalid", nil, vs...).Err()
	}
	id, key, err := newAPIKey()
	if err != nil {
		return nil, internal(ctx, s, "make API key", err)
	}
	k := apiKey{id: id, tenant: tenant, gstins: gstins, pans: pans, admin: req.GetAdmin(), created: s.now()}
	if err := s.insertAPIKey(ctx, s.db, k, hashAPIKey(key)); err != nil {
		return nil, internal(ctx, s, "store API key", err)
	}
	return &authv1.CreateApiKeyResponse{Key: k.proto(), ApiKey: key}, nil
}

// ListApiKeys implements authv1.AuthServiceServer.
func (s *Service) ListApiKeys(ctx context.Context, req *authv1.ListApiKeysRequest) (*authv1.ListApiKeysResponse, error) {
	if err := callerauth.RequireAdmin(ctx); err != nil {
		return nil, err
	}
	q := `SELECT ` + apiKeyColumns + ` FROM auth_api_keys`
	var args []any
	if t := strings.TrimSpace(req.GetTenant()); t != "" {
		q += ` WHERE tenant = $1`
		args = append(args, t)
	}
	rows, err := s.db.QueryContext(ctx, q+` ORDER BY created_ms, key_id`, args...)
	if err != nil {
		return nil, internal(ctx, s, "list API keys", err)
	}
	defer rows.Close()
	out := &authv1.ListApiKeysResponse{}
	for rows.Next() {
		k, err := scanAPIKey(rows)
		if err != nil {
			return nil, internal(ctx, s, "list API keys", err)
		}
		out.Keys = append(out.Keys, k.proto())
	}
	if err := rows.Err(); err != nil {
		return nil, internal(ctx, s, "list API keys", err)
	}
	return out, nil
}

// RevokeApiKey implements authv1.AuthServiceServer.
func (s *Service) RevokeApiKey(ctx context.Context, req *authv1.RevokeApiKeyRequest) (*authv1.RevokeApiKeyResponse, error) {
	if err := callerauth.RequireAdmin(ctx); err != nil {
		return nil, err
	}
	res, err := s.db.ExecContext(ctx, `UPDATE auth_api_keys SET revoked_ms = $1 WHERE key_id = $2 AND revoked_ms = 0`,
		s.now().UnixMilli(), req.GetKeyId())
	if err != nil {
		return nil, internal(ctx, s, "revoke API key", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		var exists int
		if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM auth_api_keys WHERE key_id = $1`, req.GetKeyId()).Scan(&exists); err != nil {
			return nil, internal(ctx, s, "revoke API key", err)
		}
		if exists == 0 {
			return nil, notFound("API key " + req.GetKeyId())
		}
	}
	// Tokens already issued to the key stop working here at once, and in other
	// processes when they next fetch the list (GetTokenKeys).
	s.revoked.add(req.GetKeyId())
	return &authv1.RevokeApiKeyResponse{}, nil
}

// IssueToken implements authv1.AuthServiceServer. It needs no token: the
// API key is the credential.
func (s *Service) IssueToken(ctx context.Context, req *authv1.IssueTokenRequest) (*authv1.IssueTokenResponse, error) {
	key := req.GetApiKey()
	if key == "" {
		if md, ok := metadata.FromIncomingContext(ctx); ok {
			if v := md.Get(APIKeyHeader); len(v) > 0 {
				key = strings.TrimSpace(v[0])
			}
		}
	}
	if key == "" {
		return nil, platform.Status(codes.Unauthenticated, errorsv1.ErrorReason_ERROR_REASON_UNAUTHENTICATED,
			"an API key is required (header x-api-key or api_key)", nil).Err()
	}
	k, err := scanAPIKey(s.db.QueryRowContext(ctx,
		`SELECT `+apiKeyColumns+` FROM auth_api_keys WHERE key_hash = $1`, hashAPIKey(key)))
	if store.IsNotFound(err) || (err == nil && !k.revok.IsZero()) {
		return nil, platform.Status(codes.Unauthenticated, errorsv1.ErrorReason_ERROR_REASON_UNAUTHENTICATED,
			"unknown or revoked API key", nil).Err()
	}
	if err != nil {
		return nil, internal(ctx, s, "look up API key", err)
	}
	tok, exp, err := s.issueToken(k)
	if err != nil {
		return nil, internal(ctx, s, "sign token", err)
	}
	return &authv1.IssueTokenResponse{
		AccessToken: tok, TokenType: "Bearer", ExpireTime: timestamppb.New(exp), Gstins: k.gstins, Pans: k.pans,
	}, nil
}

// GetTokenKeys implements authv1.AuthServiceServer.
func (s *Service) GetTokenKeys(ctx context.Context, _ *authv1.GetTokenKeysRequest) (*authv1.GetTokenKeysResponse, error) {
	revoked, err := s.revoked.list(ctx)
	if err != nil {
		return nil, internal(ctx, s, "list revoked API keys", err)
	}
	return &authv1.GetTokenKeysResponse{Keys: []*authv1.TokenKey{{Kid: s.signer.kid, PublicKeyPem: s.signer.pem}}, RevokedKeyIds: revoked}, nil
}
