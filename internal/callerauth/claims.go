package callerauth

import "github.com/golang-jwt/jwt/v5"

// Token issuers and the audience every irpgate token carries.
const (
	// CallerIssuer signs caller tokens (EdDSA) in the auth service.
	CallerIssuer = "irpgate-auth"
	// ServiceIssuer marks service tokens (HS256 with the shared service key).
	ServiceIssuer = "irpgate-service"
	// Audience is the aud of every token.
	Audience = "irpgate"
)

// Claims are the JWT claims of caller and service tokens.
type Claims struct {
	jwt.RegisteredClaims
	Tenant  string   `json:"tenant,omitempty"`
	GSTINs  []string `json:"gstins,omitempty"`
	PANs    []string `json:"pans,omitempty"`
	Admin   bool     `json:"adm,omitempty"`
	Service bool     `json:"svc,omitempty"`
}
