package callerauth

import (
	"context"
	"crypto/sha256"
	"sync"
	"time"

	"google.golang.org/grpc"

	authv1 "github.com/irpgate/irpgate/gen/go/irpgate/auth/v1"
)

// APIKeyHeader is the metadata key (and REST header) of an API key.
const APIKeyHeader = "x-api-key"

// TokenIssuer is AuthService.IssueToken, in process or over gRPC.
type TokenIssuer interface {
	IssueToken(ctx context.Context, req *authv1.IssueTokenRequest) (*authv1.IssueTokenResponse, error)
}

// GRPCTokenIssuer is the TokenIssuer of the auth service behind conn.
func GRPCTokenIssuer(conn grpc.ClientConnInterface) TokenIssuer {
	return grpcIssuer{authv1.NewAuthServiceClient(conn)}
}

type grpcIssuer struct{ c authv1.AuthServiceClient }

func (g grpcIssuer) IssueToken(ctx context.Context, req *authv1.IssueTokenRequest) (*authv1.IssueTokenResponse, error) {
	return g.c.IssueToken(ctx, req)
}

// APIKeys exchanges API keys for caller tokens and keeps each token (by the key's SHA-256,
// never the key) until shortly before it expires, so a caller that sends its API key on
// every call costs one IssueToken per token lifetime. Safe for concurrent use.
type APIKeys struct {
	issuer TokenIssuer
	mu     sync.Mutex
	tokens map[[sha256.Size]byte]issuedToken
}

type issuedToken struct {
	token   string
	expires time.Time
}

// NewAPIKeys returns an exchanger that asks issuer for tokens.
func NewAPIKeys(issuer TokenIssuer) *APIKeys {
	return &APIKeys{issuer: issuer, tokens: map[[sha256.Size]byte]issuedToken{}}
}

// Token returns a caller token for key: a kept one with more than 30 seconds to live, or a
// new one. An unknown or revoked key is the issuer's UNAUTHENTICATED error.
func (x *APIKeys) Token(ctx context.Context, key string) (string, error) {
	h := sha256.Sum256([]byte(key))
	x.mu.Lock()
	t, ok := x.tokens[h]
	x.mu.Unlock()
	if ok && time.Until(t.expires) > 30*time.Second {
		return t.token, nil
	}
	res, err := x.issuer.IssueToken(ctx, &authv1.IssueTokenRequest{ApiKey: key})
	if err != nil {
		return "", err
	}
	x.mu.Lock()
	x.tokens[h] = issuedToken{token: res.GetAccessToken(), expires: res.GetExpireTime().AsTime()}
	x.mu.Unlock()
	return res.GetAccessToken(), nil
}
