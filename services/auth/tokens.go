package auth

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/irpgate/irpgate/internal/callerauth"
	"github.com/irpgate/irpgate/internal/store"
)

// tokenSigner signs caller tokens with the installation's Ed25519 key. The
// key is sealed in auth_settings, so every replica and every restart signs
// and verifies with the same key and issued tokens stay valid.
type tokenSigner struct {
	kid  string
	priv ed25519.PrivateKey
	pub  ed25519.PublicKey
	pem  string
}

const signingKeyAAD = "auth_settings|" + settingSigningKey

func (s *Service) loadTokenSigner(ctx context.Context) (*tokenSigner, error) {
	sealed, err := s.setting(ctx, s.db, settingSigningKey)
	if store.IsNotFound(err) {
		seed := make([]byte, ed25519.SeedSize)
		if _, err := rand.Read(seed); err != nil {
			return nil, err
		}
		v, err := s.keys.seal(seed, signingKeyAAD)
		if err != nil {
			return nil, err
		}
		if err := s.insertSetting(ctx, s.db, settingSigningKey, v); err != nil && !store.IsUniqueViolation(err) {
			return nil, fmt.Errorf("auth: store token signing key: %w", err)
		}
		sealed, err = s.setting(ctx, s.db, settingSigningKey)
		if err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, fmt.Errorf("auth: read token signing key: %w", err)
	}
	seed, err := s.keys.open(sealed, signingKeyAAD)
	if err != nil {
		return nil, fmt.Errorf("auth: token signing key: %w", err)
	}
	priv := ed25519.NewKeyFromSeed(seed)
	pub := priv.Public().(ed25519.PublicKey)
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(der)
	return &tokenSigner{
		kid: "ed25519-" + hex.EncodeToString(sum[:8]), priv: priv, pub: pub,
		pem: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})),
	}, nil
}

// PublicKey implements callerauth.KeySource.
func (t *tokenSigner) PublicKey(_ context.Context, kid string) (crypto.PublicKey, error) {
	if kid != t.kid {
		return nil, callerauth.ErrUnknownKey
	}
	return t.pub, nil
}

func (t *tokenSigner) sign(c callerauth.Claims) (string, error) {
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, c)
	tok.Header["kid"] = t.kid
	return tok.SignedString(t.priv)
}

func (s *Service) issueToken(k apiKey) (string, time.Time, error) {
	now := time.Now()
	exp := now.Add(s.tokenTTL)
	tok, err := s.signer.sign(callerauth.Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: callerauth.CallerIssuer, Subject: k.id, Audience: jwt.ClaimStrings{callerauth.Audience},
			IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now.Add(-time.Minute)),
			ExpiresAt: jwt.NewNumericDate(exp), ID: randomHex(12),
		},
		Tenant: k.tenant, GSTINs: k.gstins, PANs: k.pans, Admin: k.admin,
	})
	return tok, exp, err
}
