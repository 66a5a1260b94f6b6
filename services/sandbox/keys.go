package sandbox

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Files the sandbox keeps in its data directory.
const (
	EncryptionKeyFile = "sandbox-encryption-key.pem" // RSA-2048 private key (PKCS#8)
	SigningKeyFile    = "sandbox-signing-key.pem"    // RSA-2048 private key (PKCS#8)
	SigningCertFile   = "sandbox-signing-cert.pem"   // self-signed certificate of the signing key
)

var (
	processKeysOnce sync.Once
	processKeys     *Keys
	processKeysErr  error
)

// ProcessKeys returns key material generated once per process: RSA key generation takes a
// noticeable fraction of a second, and tests start many sandboxes.
func ProcessKeys() (*Keys, error) {
	processKeysOnce.Do(func() { processKeys, processKeysErr = GenerateKeys() })
	return processKeys, processKeysErr
}

// GenerateKeys makes a fresh encryption key and a signing key with a self-signed certificate.
func GenerateKeys() (*Keys, error) {
	enc, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("sandbox: encryption key: %w", err)
	}
	sig, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("sandbox: signing key: %w", err)
	}
	cert, err := selfSign(sig)
	if err != nil {
		return nil, err
	}
	return &Keys{Encryption: enc, Signing: sig, Certificate: cert}, nil
}

func selfSign(key *rsa.PrivateKey) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, fmt.Errorf("sandbox: serial: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "NIC Sandbox IRP signing", Organization: []string{"irpgate sandbox"}, Country: []string{"IN"}},
		NotBefore:             now.Add(-24 * time.Hour),
		NotAfter:              now.AddDate(20, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("sandbox: self-sign: %w", err)
	}
	return x509.ParseCertificate(der)
}

// LoadOrCreateKeys reads the key files from dir, creating any that are missing.
func LoadOrCreateKeys(dir string) (*Keys, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("sandbox: data dir: %w", err)
	}
	k := &Keys{}
	var err error
	if k.Encryption, err = loadOrCreateKey(filepath.Join(dir, EncryptionKeyFile)); err != nil {
		return nil, err
	}
	if k.Signing, err = loadOrCreateKey(filepath.Join(dir, SigningKeyFile)); err != nil {
		return nil, err
	}
	certPath := filepath.Join(dir, SigningCertFile)
	if b, err := os.ReadFile(certPath); err == nil {
		blk, _ := pem.Decode(b)
		if blk == nil {
			return nil, fmt.Errorf("sandbox: %s: no PEM block", certPath)
		}
		if k.Certificate, err = x509.ParseCertificate(blk.Bytes); err != nil {
			return nil, fmt.Errorf("sandbox: %s: %w", certPath, err)
		}
		if pk, ok := k.Certificate.PublicKey.(*rsa.PublicKey); !ok || !pk.Equal(&k.Signing.PublicKey) {
			return nil, fmt.Errorf("sandbox: %s does not match %s", certPath, SigningKeyFile)
		}
		return k, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	if k.Certificate, err = selfSign(k.Signing); err != nil {
		return nil, err
	}
	pemCert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: k.Certificate.Raw})
	if err := os.WriteFile(certPath, pemCert, 0o644); err != nil { //nolint:gosec // a public certificate.
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	return k, nil
}

func loadOrCreateKey(path string) (*rsa.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		blk, _ := pem.Decode(b)
		if blk == nil {
			return nil, fmt.Errorf("sandbox: %s: no PEM block", path)
		}
		if k, err := x509.ParsePKCS8PrivateKey(blk.Bytes); err == nil {
			if rk, ok := k.(*rsa.PrivateKey); ok {
				return rk, nil
			}
			return nil, fmt.Errorf("sandbox: %s: not an RSA key", path)
		}
		k, err := x509.ParsePKCS1PrivateKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("sandbox: %s: %w", path, err)
		}
		return k, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	return k, nil
}

// PublicKeyPEM is the auth encryption key as a PKIX "PUBLIC KEY" PEM block.
func publicKeyPEM(k *rsa.PublicKey) []byte {
	der, _ := x509.MarshalPKIXPublicKey(k)
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

func certPEM(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

// What an irpgate that calls this sandbox from another process needs (its
// --irp-public-key-file and --irp-cert-file), as WriteKeySet names them.
const (
	IRPPublicKeyFile = "irp-public-key.pem" // the encryption key's public half
	IRPCertFile      = "irp-cert.pem"       // the signing certificate
)

// WriteKeySet makes dir a sandbox key set: the sandbox's own files (kept when present, as
// LoadOrCreateKeys does) and the public files its callers need, so that a sandbox and the
// services calling it can be deployed apart from one set of files (`irpgate sandbox-keys`).
func WriteKeySet(dir string) (*Keys, error) {
	k, err := LoadOrCreateKeys(dir)
	if err != nil {
		return nil, err
	}
	for name, b := range map[string][]byte{IRPPublicKeyFile: publicKeyPEM(&k.Encryption.PublicKey), IRPCertFile: certPEM(k.Certificate)} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil { //nolint:gosec // public halves.
			return nil, fmt.Errorf("sandbox: %w", err)
		}
	}
	return k, nil
}
