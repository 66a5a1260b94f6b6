package irpcrypto

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
)

// EncryptAuthPayload builds the Data field of a v1.04 auth request: the JSON
// is base64-encoded, the base64 text is RSA-encrypted with PKCS#1 v1.5 under
// the IRP's public key, and the ciphertext is base64-encoded again.
func EncryptAuthPayload(pub *rsa.PublicKey, jsonPayload []byte) (string, error) {
	inner := base64.StdEncoding.EncodeToString(jsonPayload)
	ct, err := rsa.EncryptPKCS1v15(rand.Reader, pub, []byte(inner)) //nolint:staticcheck // SA1019: the NIC IRP auth protocol mandates RSA/ECB/PKCS1Padding for the AppKey and password; the IRP decrypts nothing else
	if err != nil {
		return "", fmt.Errorf("irpcrypto: rsa encrypt auth payload (%d bytes of base64; RSA-2048 takes at most 245): %w", len(inner), err)
	}
	return base64.StdEncoding.EncodeToString(ct), nil
}

// DecryptAuthPayload reverses EncryptAuthPayload with the IRP's private key.
func DecryptAuthPayload(priv *rsa.PrivateKey, data string) ([]byte, error) {
	ct, err := base64.StdEncoding.DecodeString(data)
	if err != nil {
		return nil, fmt.Errorf("irpcrypto: auth data is not base64: %w", err)
	}
	inner, err := rsa.DecryptPKCS1v15(nil, priv, ct) //nolint:staticcheck // PKCS#1 v1.5 is what NIC specifies.
	if err != nil {
		return nil, errors.New("irpcrypto: auth data does not decrypt with the IRP key")
	}
	out, err := base64.StdEncoding.DecodeString(string(inner))
	if err != nil {
		return nil, fmt.Errorf("irpcrypto: decrypted auth data is not base64: %w", err)
	}
	return out, nil
}

// ParsePublicKey reads an RSA public key from PEM (PKIX "PUBLIC KEY", PKCS#1
// "RSA PUBLIC KEY" or a "CERTIFICATE") or from bare base64 DER, the forms in
// which IRPs publish their keys.
func ParsePublicKey(data []byte) (*rsa.PublicKey, error) {
	der := data
	if block, _ := pem.Decode(data); block != nil {
		der = block.Bytes
	} else if b, err := base64.StdEncoding.DecodeString(string(data)); err == nil {
		der = b
	}
	if k, err := x509.ParsePKIXPublicKey(der); err == nil {
		if rk, ok := k.(*rsa.PublicKey); ok {
			return rk, nil
		}
		return nil, errors.New("irpcrypto: public key is not RSA")
	}
	if k, err := x509.ParsePKCS1PublicKey(der); err == nil {
		return k, nil
	}
	if c, err := x509.ParseCertificate(der); err == nil {
		if rk, ok := c.PublicKey.(*rsa.PublicKey); ok {
			return rk, nil
		}
	}
	return nil, errors.New("irpcrypto: no RSA public key found")
}
