package gateway

import (
	"net/http"

	"google.golang.org/grpc"

	"github.com/irpgate/irpgate/internal/callerauth"
)

// apiKeyExchanger lets REST callers send `X-Api-Key` instead of a bearer
// token: the gateway exchanges the key for a short-lived token with
// AuthService.IssueToken (callerauth.APIKeys keeps it until shortly before it
// expires), so the services behind it see only tokens.
type apiKeyExchanger struct{ keys *callerauth.APIKeys }

func newAPIKeyExchanger(conn grpc.ClientConnInterface) *apiKeyExchanger {
	return &apiKeyExchanger{keys: callerauth.NewAPIKeys(callerauth.GRPCTokenIssuer(conn))}
}

func (x *apiKeyExchanger) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get("X-Api-Key")
		if key == "" || r.Header.Get("Authorization") != "" || r.URL.Path == "/v1/auth/token" {
			next.ServeHTTP(w, r)
			return
		}
		tok, err := x.keys.Token(r.Context(), key)
		if err != nil {
			errorHandler(r.Context(), nil, nil, w, r, err)
			return
		}
		r.Header.Del("X-Api-Key")
		r.Header.Set("Authorization", "Bearer "+tok)
		next.ServeHTTP(w, r)
	})
}
