package gateway

import (
	"context"
	"crypto/sha256"
	"net/http"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	authv1 "github.com/irpgate/irpgate/gen/go/irpgate/auth/v1"
)

// apiKeyExchanger lets REST callers send `X-Api-Key` instead of a bearer
// token: the gateway exchanges the key for a short-lived token with
// AuthService.IssueToken and caches it (by the key's hash) until shortly
// before it expires. Services still only ever see verified tokens.
type apiKeyExchanger struct {
	auth authv1.AuthServiceClient
	mu   sync.Mutex
	toks map[[32]byte]cachedToken
}

type cachedToken struct {
	token   string
	expires time.Time
}

func newAPIKeyExchanger(conn grpc.ClientConnInterface) *apiKeyExchanger {
	return &apiKeyExchanger{auth: authv1.NewAuthServiceClient(conn), toks: map[[32]byte]cachedToken{}}
}

func (x *apiKeyExchanger) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get("X-Api-Key")
		if key == "" || r.Header.Get("Authorization") != "" || r.URL.Path == "/v1/auth/token" {
			next.ServeHTTP(w, r)
			return
		}
		tok, err := x.token(r.Context(), key)
		if err != nil {
			errorHandler(r.Context(), nil, nil, w, r, err)
			return
		}
		r.Header.Del("X-Api-Key")
		r.Header.Set("Authorization", "Bearer "+tok)
		next.ServeHTTP(w, r)
	})
}

func (x *apiKeyExchanger) token(ctx context.Context, key string) (string, error) {
	h := sha256.Sum256([]byte(key))
	x.mu.Lock()
	c, ok := x.toks[h]
	x.mu.Unlock()
	if ok && time.Until(c.expires) > 30*time.Second {
		return c.token, nil
	}
	ctx = metadata.AppendToOutgoingContext(ctx, "x-api-key", key)
	res, err := x.auth.IssueToken(ctx, &authv1.IssueTokenRequest{})
	if err != nil {
		return "", err
	}
	x.mu.Lock()
	x.toks[h] = cachedToken{token: res.GetAccessToken(), expires: res.GetExpireTime().AsTime()}
	x.mu.Unlock()
	return res.GetAccessToken(), nil
}
