package callerauth_test

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	authv1 "github.com/irpgate/irpgate/gen/go/irpgate/auth/v1"
	"github.com/irpgate/irpgate/internal/callerauth"
)

// issuer counts its calls; its tokens live for ttl. Only "good" is a key.
type issuer struct {
	calls atomic.Int32
	ttl   time.Duration
}

func (i *issuer) IssueToken(_ context.Context, req *authv1.IssueTokenRequest) (*authv1.IssueTokenResponse, error) {
	n := i.calls.Add(1)
	if req.GetApiKey() != "good" {
		return nil, status.Error(codes.Unauthenticated, "unknown or revoked API key")
	}
	return &authv1.IssueTokenResponse{AccessToken: "tok-" + string(rune('0'+n)), ExpireTime: timestamppb.New(time.Now().Add(i.ttl))}, nil
}

// A key's token is asked for once and kept; one about to expire (30 s or less) is renewed; a
// refused key is asked about again each time, never kept.
func TestAPIKeysKeepTokensUntilNearExpiry(t *testing.T) {
	long := &issuer{ttl: 15 * time.Minute}
	keys := callerauth.NewAPIKeys(long)
	for range 3 {
		tok, err := keys.Token(t.Context(), "good")
		require.NoError(t, err)
		require.Equal(t, "tok-1", tok)
	}
	require.EqualValues(t, 1, long.calls.Load())

	short := &issuer{ttl: 20 * time.Second}
	keys = callerauth.NewAPIKeys(short)
	for _, want := range []string{"tok-1", "tok-2"} {
		tok, err := keys.Token(t.Context(), "good")
		require.NoError(t, err)
		require.Equal(t, want, tok)
	}

	bad := &issuer{ttl: time.Hour}
	keys = callerauth.NewAPIKeys(bad)
	for range 2 {
		_, err := keys.Token(t.Context(), "bad")
		require.Equal(t, codes.Unauthenticated, status.Code(err))
	}
	require.EqualValues(t, 2, bad.calls.Load())
}

// edIssuer issues Ed25519 caller tokens (kid k1) for the key "good".
type edIssuer struct{ priv ed25519.PrivateKey }

func (e edIssuer) IssueToken(_ context.Context, req *authv1.IssueTokenRequest) (*authv1.IssueTokenResponse, error) {
	if req.GetApiKey() != "good" {
		return nil, status.Error(codes.Unauthenticated, "unknown or revoked API key")
	}
	exp := time.Now().Add(time.Minute)
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, callerauth.Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: callerauth.CallerIssuer, Subject: "ak_1", Audience: jwt.ClaimStrings{callerauth.Audience},
			IssuedAt: jwt.NewNumericDate(time.Now()), ExpiresAt: jwt.NewNumericDate(exp),
		},
		Tenant: "acme", GSTINs: []string{"29AAACP7879D1Z0"},
	})
	tok.Header["kid"] = "k1"
	s, err := tok.SignedString(e.priv)
	if err != nil {
		return nil, err
	}
	return &authv1.IssueTokenResponse{AccessToken: s, ExpireTime: timestamppb.New(exp)}, nil
}

// A caller with an API key is authenticated as its token's caller, and from there on the call
// carries that token instead of the key, so the calls it makes forward the token and never
// the key.
func TestVerifier_AuthenticatesAPIKeys(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	keys := callerauth.KeySourceFunc(func(context.Context, string) (crypto.PublicKey, error) { return pub, nil })
	v := callerauth.NewVerifier(keys, callerauth.WithAPIKeys(callerauth.NewAPIKeys(edIssuer{priv})))

	in := metadata.NewIncomingContext(t.Context(), metadata.Pairs(callerauth.APIKeyHeader, "good", "x-request-id", "r1"))
	ctx, err := v.Authenticate(in, "/irpgate.einvoice.v1.EInvoiceService/GetIrn")
	require.NoError(t, err)
	c, ok := callerauth.FromContext(ctx)
	require.True(t, ok)
	require.Equal(t, []string{"29AAACP7879D1Z0"}, c.GSTINs)
	md, _ := metadata.FromIncomingContext(ctx)
	require.Empty(t, md.Get(callerauth.APIKeyHeader))
	require.Len(t, md.Get("authorization"), 1)
	require.True(t, strings.HasPrefix(md.Get("authorization")[0], "Bearer ey"))
	require.Equal(t, []string{"r1"}, md.Get("x-request-id"))
	orig, _ := metadata.FromIncomingContext(in)
	require.Equal(t, []string{"good"}, orig.Get(callerauth.APIKeyHeader), "the caller's metadata is not changed in place")

	_, err = v.Authenticate(metadata.NewIncomingContext(t.Context(), metadata.Pairs(callerauth.APIKeyHeader, "bad")), "/x/Y")
	require.Equal(t, codes.Unauthenticated, status.Code(err))
}
