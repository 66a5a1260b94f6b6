package callerauth_test

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/irpgate/irpgate/internal/callerauth"
)

const testMethod = "/irpgate.einvoice.v1.EInvoiceService/GenerateIRN"

func TestVerifier_Authenticate(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	_, otherPriv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	serviceKey := []byte("0123456789abcdef0123456789abcdef")
	keys := callerauth.KeySourceFunc(func(_ context.Context, kid string) (crypto.PublicKey, error) {
		if kid != "k1" {
			return nil, callerauth.ErrUnknownKey
		}
		return pub, nil
	})
	v := callerauth.NewVerifier(keys, callerauth.WithServiceKey(serviceKey))
	now := time.Now()
	claims := func(mod func(*callerauth.Claims)) callerauth.Claims {
		c := callerauth.Claims{
			RegisteredClaims: jwt.RegisteredClaims{
				Issuer: callerauth.CallerIssuer, Subject: "ak_1", Audience: jwt.ClaimStrings{callerauth.Audience},
				IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(time.Minute)),
			},
			Tenant: "acme", GSTINs: []string{"29AAACP7879D1Z0"},
		}
		if mod != nil {
			mod(&c)
		}
		return c
	}
	edToken := func(key ed25519.PrivateKey, kid string, c callerauth.Claims) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, c)
		tok.Header["kid"] = kid
		s, err := tok.SignedString(key)
		require.NoError(t, err)
		return s
	}
	hsToken := func(key []byte, c callerauth.Claims) string {
		s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(key)
		require.NoError(t, err)
		return s
	}
	svc, err := callerauth.SignServiceToken(serviceKey, "einvoice", now, time.Minute)
	require.NoError(t, err)

	cases := []struct {
		name   string
		method string
		token  string // "" sends no authorization
		code   codes.Code
		want   callerauth.Caller
	}{
		{
			"caller token", testMethod, edToken(priv, "k1", claims(nil)), codes.OK,
			callerauth.Caller{KeyID: "ak_1", Tenant: "acme", GSTINs: []string{"29AAACP7879D1Z0"}},
		},
		{"service token", testMethod, svc, codes.OK, callerauth.Caller{KeyID: "einvoice", Service: true}},
		{"no token", testMethod, "", codes.Unauthenticated, callerauth.Caller{}},
		{"IssueToken needs no token", callerauth.MethodIssueToken, "", codes.OK, callerauth.Caller{}},
		{"expired token", testMethod, edToken(priv, "k1", claims(func(c *callerauth.Claims) {
			c.ExpiresAt = jwt.NewNumericDate(now.Add(-time.Hour))
		})), codes.Unauthenticated, callerauth.Caller{}},
		{"token signed by another key", testMethod, edToken(otherPriv, "k1", claims(nil)), codes.Unauthenticated, callerauth.Caller{}},
		{"unknown kid", testMethod, edToken(priv, "k9", claims(nil)), codes.Unauthenticated, callerauth.Caller{}},
		{"wrong audience", testMethod, edToken(priv, "k1", claims(func(c *callerauth.Claims) { c.Audience = jwt.ClaimStrings{"other"} })), codes.Unauthenticated, callerauth.Caller{}},
		{"caller token cannot claim to be a service", testMethod, edToken(priv, "k1", claims(func(c *callerauth.Claims) { c.Service = true })), codes.Unauthenticated, callerauth.Caller{}},
		{"service-key token cannot claim to be an admin caller", testMethod, hsToken(serviceKey, claims(func(c *callerauth.Claims) { c.Admin = true })), codes.Unauthenticated, callerauth.Caller{}},
		{"service token with the wrong key", testMethod, hsToken([]byte("another-key-another-key-another-k"), claims(func(c *callerauth.Claims) {
			c.Issuer, c.Service = callerauth.ServiceIssuer, true
		})), codes.Unauthenticated, callerauth.Caller{}},
		{"unsigned token", testMethod, func() string {
			s, err := jwt.NewWithClaims(jwt.SigningMethodNone, claims(nil)).SignedString(jwt.UnsafeAllowNoneSignatureType)
			require.NoError(t, err)
			return s
		}(), codes.Unauthenticated, callerauth.Caller{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			if tc.token != "" {
				ctx = metadata.NewIncomingContext(ctx, metadata.Pairs("authorization", "Bearer "+tc.token))
			}
			out, err := v.Authenticate(ctx, tc.method)
			require.Equal(t, tc.code, status.Code(err), "%v", err)
			if err != nil {
				return
			}
			got, _ := callerauth.FromContext(out)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestVerifier_RejectsServiceTokensWithoutServiceKey(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	svc, err := callerauth.SignServiceToken(key, "einvoice", time.Now(), time.Minute)
	require.NoError(t, err)
	v := callerauth.NewVerifier(callerauth.KeySourceFunc(func(context.Context, string) (crypto.PublicKey, error) {
		return nil, callerauth.ErrUnknownKey
	}))
	ctx := metadata.NewIncomingContext(t.Context(), metadata.Pairs("authorization", "Bearer "+svc))
	_, err = v.Authenticate(ctx, testMethod)
	require.Equal(t, codes.Unauthenticated, status.Code(err))
}

// A verified token is remembered: the key source is asked once, not per RPC; the cached
// answer still ends at the token's expiry and after a minute, when the token is checked
// again (so a withdrawn key stops working).
func TestVerifier_RemembersVerifiedTokens(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	lookups := 0
	withdrawn := false
	keys := callerauth.KeySourceFunc(func(_ context.Context, kid string) (crypto.PublicKey, error) {
		lookups++
		if withdrawn {
			return nil, callerauth.ErrUnknownKey
		}
		return pub, nil
	})
	now := time.Now()
	clock := now
	v := callerauth.NewVerifier(keys, callerauth.WithClock(func() time.Time { return clock }), callerauth.WithLeeway(0))
	sign := func(ttl time.Duration) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, callerauth.Claims{RegisteredClaims: jwt.RegisteredClaims{
			Issuer: callerauth.CallerIssuer, Subject: "ak_1", Audience: jwt.ClaimStrings{callerauth.Audience},
			IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		}, GSTINs: []string{"29AAACP7879D1Z0"}})
		tok.Header["kid"] = "k1"
		s, err := tok.SignedString(priv)
		require.NoError(t, err)
		return s
	}
	long, short := sign(time.Hour), sign(30*time.Second)

	for range 3 {
		c, err := v.Verify(t.Context(), "Bearer "+long)
		require.NoError(t, err)
		require.Equal(t, "ak_1", c.KeyID)
	}
	require.Equal(t, 1, lookups, "verified once, then remembered")

	_, err = v.Verify(t.Context(), short)
	require.NoError(t, err)
	clock = now.Add(31 * time.Second)
	_, err = v.Verify(t.Context(), short)
	require.Equal(t, codes.Unauthenticated, status.Code(err), "a remembered token still expires")

	withdrawn = true
	clock = now.Add(61 * time.Second)
	_, err = v.Verify(t.Context(), long)
	require.Equal(t, codes.Unauthenticated, status.Code(err), "checked again after a minute: the key is gone")
}
