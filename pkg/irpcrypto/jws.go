package irpcrypto

import (
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // kid/x5t are SHA-1 thumbprints by definition (RFC 7515 §4.1.7).
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"github.com/golang-jwt/jwt/v5"
)

// Thumbprint returns the certificate's SHA-1 thumbprint as the IRP writes it
// in a JWS header: kid in upper-case hex, x5t in unpadded base64url.
func Thumbprint(cert *x509.Certificate) (kid, x5t string) {
	sum := sha1.Sum(cert.Raw) //nolint:gosec // see import.
	return strings.ToUpper(hex.EncodeToString(sum[:])), base64.RawURLEncoding.EncodeToString(sum[:])
}

// Signer signs IRP payloads as RS256 JWS with kid and x5t of its certificate.
type Signer struct {
	Key    *rsa.PrivateKey
	Cert   *x509.Certificate
	Issuer string // "NIC", "NIC Sandbox"
}

// Sign returns a compact JWS whose payload is {"data": data, "iss": issuer},
// data being the JSON document serialised as a string, as NIC does.
func (s Signer) Sign(data []byte) (string, error) {
	kid, x5t := Thumbprint(s.Cert)
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{"data": string(data), "iss": s.Issuer})
	tok.Header["kid"] = kid
	tok.Header["x5t"] = x5t
	out, err := tok.SignedString(s.Key)
	if err != nil {
		return "", fmt.Errorf("irpcrypto: sign: %w", err)
	}
	return out, nil
}

// Signed is a verified IRP JWS.
type Signed struct {
	Kid    string
	Issuer string
	Data   json.RawMessage // the "data" claim, parsed from its string form
}

// ErrSignature reports a JWS that does not verify against any trusted certificate.
var ErrSignature = errors.New("irpcrypto: signature does not verify against the IRP certificates")

// Verify checks a SignedInvoice or SignedQRCode against the trusted IRP
// certificates (selected by kid, else each tried) and returns its claims.
// A Verifier built once does the same with less work per token.
func Verify(token string, certs []*x509.Certificate) (*Signed, error) {
	v, err := NewVerifier(certs)
	if err != nil {
		return nil, err
	}
	return v.Verify(token)
}

// Verifier checks IRP JWS against a fixed set of trusted certificates. It is
// safe for concurrent use.
type Verifier struct {
	keys   []verifyKey
	parser *jwt.Parser
}

type verifyKey struct {
	kid string // SHA-1 thumbprint, upper-case hex
	pub *rsa.PublicKey
}

// NewVerifier returns a Verifier for the RSA certificates among certs.
func NewVerifier(certs []*x509.Certificate) (*Verifier, error) {
	v := &Verifier{parser: jwt.NewParser(jwt.WithValidMethods([]string{"RS256"}))}
	for _, c := range certs {
		if pub, ok := c.PublicKey.(*rsa.PublicKey); ok {
			kid, _ := Thumbprint(c)
			v.keys = append(v.keys, verifyKey{kid: kid, pub: pub})
		}
	}
	if len(v.keys) == 0 {
		return nil, errors.New("irpcrypto: no IRP certificates configured")
	}
	return v, nil
}

// jwsClaims are the claims of an IRP JWS: the document as a JSON string, and the issuer.
type jwsClaims struct {
	jwt.RegisteredClaims
	Data *string `json:"data"`
}

// Verify checks token's RS256 signature against the certificate its kid names
// (each certificate when it names none) and returns its claims.
func (v *Verifier) Verify(token string) (*Signed, error) {
	var kid string
	var claims jwsClaims
	_, err := v.parser.ParseWithClaims(token, &claims, func(t *jwt.Token) (any, error) {
		kid, _ = t.Header["kid"].(string)
		if kid != "" {
			for _, k := range v.keys {
				if strings.EqualFold(k.kid, kid) {
					return k.pub, nil
				}
			}
			return nil, fmt.Errorf("no certificate with kid %q", kid)
		}
		keys := jwt.VerificationKeySet{}
		for _, k := range v.keys {
			keys.Keys = append(keys.Keys, k.pub)
		}
		return keys, nil
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSignature, err)
	}
	if claims.Data == nil {
		return nil, errors.New("irpcrypto: JWS has no string data claim")
	}
	return &Signed{Kid: kid, Issuer: claims.Issuer, Data: json.RawMessage(*claims.Data)}, nil
}

// DecodeUnverified returns the data claim of a JWS without checking its
// signature. Use it only where the caller verifies elsewhere or just reads.
func DecodeUnverified(token string) (json.RawMessage, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, errors.New("irpcrypto: not a compact JWS")
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, fmt.Errorf("irpcrypto: JWS payload: %w", err)
	}
	var p struct {
		Data string `json:"data"`
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, fmt.Errorf("irpcrypto: JWS payload: %w", err)
	}
	return json.RawMessage(p.Data), nil
}

// ParseCertificates reads every PEM CERTIFICATE block in data.
func ParseCertificates(data []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("irpcrypto: certificate: %w", err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("irpcrypto: no PEM certificate found")
	}
	return out, nil
}
