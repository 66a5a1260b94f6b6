package callerauth

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"

	errorsv1 "github.com/irpgate/irpgate/gen/go/irpgate/errors/v1"
	"github.com/irpgate/irpgate/internal/platform"
)

// KeySource supplies the public keys that verify caller tokens.
type KeySource interface {
	// PublicKey returns the key with id kid, fetching the key set again if
	// it does not know kid yet.
	PublicKey(ctx context.Context, kid string) (crypto.PublicKey, error)
}

// RevocationSource is implemented by a KeySource that also knows which API
// keys were revoked: a Verifier refuses their tokens, even ones it verified
// before, so a revoked key stops working before its tokens expire.
type RevocationSource interface {
	Revoked(ctx context.Context, keyID string) bool
}

// KeySourceFunc adapts a function (the auth service's own keys, in-process).
type KeySourceFunc func(ctx context.Context, kid string) (crypto.PublicKey, error)

// PublicKey calls f.
func (f KeySourceFunc) PublicKey(ctx context.Context, kid string) (crypto.PublicKey, error) {
	return f(ctx, kid)
}

// Methods of the auth service reachable without a token.
const (
	MethodIssueToken    = "/irpgate.auth.v1.AuthService/IssueToken"   //nolint:gosec // G101: a gRPC method name, not a credential
	MethodGetTokenKeys  = "/irpgate.auth.v1.AuthService/GetTokenKeys" //nolint:gosec // G101: a gRPC method name, not a credential
	authorizationHeader = "authorization"
)

// Verifier checks the bearer token of every RPC locally and puts the Caller
// in the context. It implements platform.Authenticator.
type Verifier struct {
	keys       KeySource
	serviceKey []byte
	public     map[string]bool
	now        func() time.Time
	leeway     time.Duration
	apiKeys    *APIKeys // nil: bearer tokens only

	// verified remembers tokens that passed, so a caller's token is checked
	// once and not on every RPC (an Ed25519 verify costs about 100 µs).
	mu       sync.Mutex
	verified map[[sha256.Size]byte]verifiedToken
}

// verifiedToken is a cached result of Verify.
type verifiedToken struct {
	caller Caller
	until  time.Time // the token's expiry (with leeway), or verifiedTTL after the check
}

const (
	// verifiedTTL bounds how long a verified token is trusted without a new
	// check, so a withdrawn signing key stops working within it.
	verifiedTTL = time.Minute
	// verifiedMax bounds the cache; it is emptied when full.
	verifiedMax = 10000
)

var _ platform.Authenticator = (*Verifier)(nil)

// NewVerifier returns a verifier of caller tokens signed by keys. Service
// tokens are accepted only WithServiceKey.
func NewVerifier(keys KeySource, opts ...Option) *Verifier {
	v := &Verifier{
		keys:     keys,
		public:   map[string]bool{MethodIssueToken: true, MethodGetTokenKeys: true},
		now:      time.Now,
		leeway:   30 * time.Second,
		verified: map[[sha256.Size]byte]verifiedToken{},
	}
	for _, o := range opts {
		o(v)
	}
	return v
}

// Authenticate implements platform.Authenticator.
func (v *Verifier) Authenticate(ctx context.Context, fullMethod string) (context.Context, error) {
	if v.public[fullMethod] {
		return ctx, nil
	}
	md, _ := metadata.FromIncomingContext(ctx)
	values := md.Get(authorizationHeader)
	if len(values) == 0 && v.apiKeys != nil {
		if keys := md.Get(APIKeyHeader); len(keys) > 0 && strings.TrimSpace(keys[0]) != "" {
			tok, err := v.apiKeys.Token(ctx, strings.TrimSpace(keys[0]))
			if err != nil {
				return nil, err
			}
			values = []string{tok}
			// From here on the call carries the token, not the key: calls this one makes
			// forward the caller's token as they do a bearer caller's, and the key goes no
			// further.
			md = md.Copy()
			md.Delete(APIKeyHeader)
			md.Set(authorizationHeader, "Bearer "+tok)
			ctx = metadata.NewIncomingContext(ctx, md)
		}
	}
	if len(values) == 0 {
		if v.apiKeys != nil {
			return nil, unauthenticated("missing credentials: give authorization: Bearer <token> or x-api-key: <API key>")
		}
		return nil, unauthenticated("missing bearer token (authorization: Bearer <token>)")
	}
	// A service call may carry both its own token and the end caller's,
	// forwarded from the incoming call; every token given must verify, and
	// the service identity wins.
	var chosen *Caller
	for _, raw := range values {
		c, err := v.Verify(ctx, raw)
		if err != nil {
			return nil, err
		}
		if chosen == nil || c.Service {
			chosen = &c
		}
	}
	return NewContext(ctx, *chosen), nil
}

// Verify checks one "Bearer <jwt>" value (or a bare JWT) and returns its caller.
func (v *Verifier) Verify(ctx context.Context, value string) (Caller, error) {
	tok := strings.TrimSpace(value)
	if len(tok) > 7 && strings.EqualFold(tok[:7], "bearer ") {
		tok = strings.TrimSpace(tok[7:])
	}
	if tok == "" {
		return Caller{}, unauthenticated("empty bearer token")
	}
	sum := sha256.Sum256([]byte(tok))
	now := v.now()
	v.mu.Lock()
	hit, ok := v.verified[sum]
	v.mu.Unlock()
	if ok && now.Before(hit.until) {
		if err := v.checkRevoked(ctx, hit.caller); err != nil {
			return Caller{}, err
		}
		return hit.caller, nil
	}
	c, exp, err := v.verify(ctx, tok)
	if err != nil {
		return Caller{}, err
	}
	if err := v.checkRevoked(ctx, c); err != nil {
		return Caller{}, err
	}
	until := now.Add(verifiedTTL)
	if exp := exp.Add(v.leeway); exp.Before(until) {
		until = exp
	}
	v.mu.Lock()
	if len(v.verified) >= verifiedMax {
		clear(v.verified)
	}
	v.verified[sum] = verifiedToken{caller: c, until: until}
	v.mu.Unlock()
	return c, nil
}

// checkRevoked refuses a caller whose API key was revoked.
func (v *Verifier) checkRevoked(ctx context.Context, c Caller) error {
	rs, ok := v.keys.(RevocationSource)
	if !ok || c.Service || c.KeyID == "" || !rs.Revoked(ctx, c.KeyID) {
		return nil
	}
	return unauthenticated("the API key of this token was revoked")
}

// verify checks a bare JWT and returns its caller and expiry.
func (v *Verifier) verify(ctx context.Context, tok string) (Caller, time.Time, error) {
	var claims Claims
	alg := ""
	_, err := jwt.ParseWithClaims(tok, &claims, func(t *jwt.Token) (any, error) {
		alg = t.Method.Alg()
		switch t.Method {
		case jwt.SigningMethodHS256:
			if len(v.serviceKey) == 0 {
				return nil, errors.New("service tokens are not accepted here")
			}
			return v.serviceKey, nil
		case jwt.SigningMethodEdDSA:
			kid, _ := t.Header["kid"].(string)
			if kid == "" {
				return nil, errors.New("token has no kid")
			}
			k, err := v.keys.PublicKey(ctx, kid)
			if err != nil {
				return nil, err
			}
			if _, ok := k.(ed25519.PublicKey); !ok {
				return nil, fmt.Errorf("key %s is not an Ed25519 key", kid)
			}
			return k, nil
		default:
			return nil, fmt.Errorf("unexpected signing method %v", t.Header["alg"])
		}
	},
		jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg(), jwt.SigningMethodHS256.Alg()}),
		jwt.WithAudience(Audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(v.leeway),
		jwt.WithTimeFunc(v.now),
	)
	if err != nil {
		if errors.Is(err, jwt.ErrTokenExpired) {
			return Caller{}, time.Time{}, unauthenticated("token expired")
		}
		return Caller{}, time.Time{}, unauthenticated("invalid token")
	}
	var exp time.Time
	if claims.ExpiresAt != nil {
		exp = claims.ExpiresAt.Time
	}
	// The signing method decides what a token may claim: only the shared
	// service key makes a service, only auth's key makes a caller or admin.
	switch {
	case alg == jwt.SigningMethodHS256.Alg() && claims.Issuer == ServiceIssuer && claims.Service:
		return Caller{KeyID: claims.Subject, Service: true}, exp, nil
	case alg == jwt.SigningMethodEdDSA.Alg() && claims.Issuer == CallerIssuer && !claims.Service:
		return Caller{KeyID: claims.Subject, Tenant: claims.Tenant, GSTINs: claims.GSTINs, PANs: claims.PANs, Admin: claims.Admin}, exp, nil
	default:
		return Caller{}, time.Time{}, unauthenticated("invalid token")
	}
}

func unauthenticated(msg string) error {
	return platform.Status(codes.Unauthenticated, errorsv1.ErrorReason_ERROR_REASON_UNAUTHENTICATED, msg, nil).Err()
}
