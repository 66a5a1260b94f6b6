package callerauth

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"google.golang.org/grpc/credentials"
)

// ServiceKeyFileEnv names the file holding the shared service key.
const ServiceKeyFileEnv = "IRPGATE_SERVICE_KEY_FILE"

// ServiceKeyFileName is the file created in the data directory when no
// service key file is configured (the embedded default).
const ServiceKeyFileName = "service.key"

// LoadServiceKey reads the shared service key from path; with path empty it
// uses IRPGATE_SERVICE_KEY_FILE, and failing that <dataDir>/service.key,
// created on first use. created reports that a new key was written.
func LoadServiceKey(path, dataDir string) (key []byte, usedPath string, created bool, err error) {
	if path == "" {
		path = os.Getenv(ServiceKeyFileEnv)
	}
	if path == "" {
		if dataDir == "" {
			return nil, "", false, errors.New("callerauth: no service key file and no data directory")
		}
		path = filepath.Join(dataDir, ServiceKeyFileName)
		if _, statErr := os.Stat(path); errors.Is(statErr, os.ErrNotExist) {
			raw := make([]byte, 32)
			if _, err := rand.Read(raw); err != nil {
				return nil, "", false, err
			}
			if err := os.MkdirAll(dataDir, 0o750); err != nil {
				return nil, "", false, fmt.Errorf("callerauth: create data dir: %w", err)
			}
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			switch {
			case err == nil:
				_, werr := f.WriteString(base64.StdEncoding.EncodeToString(raw) + "\n")
				if err := errors.Join(werr, f.Close()); err != nil {
					return nil, "", false, fmt.Errorf("callerauth: write service key: %w", err)
				}
				created = true
			case errors.Is(err, os.ErrExist): // another process made it first
			default:
				return nil, "", false, fmt.Errorf("callerauth: create service key: %w", err)
			}
		}
	}
	b, err := os.ReadFile(path) //nolint:gosec // operator-given path
	if err != nil {
		return nil, "", false, fmt.Errorf("callerauth: read service key file: %w", err)
	}
	s := strings.TrimSpace(string(b))
	key, derr := base64.StdEncoding.DecodeString(s)
	if derr != nil {
		key = []byte(s) // a plain secret string works too
	}
	if len(key) < 32 {
		return nil, "", false, errors.New("callerauth: service key must be at least 32 bytes")
	}
	return key, path, created, nil
}

// SignServiceToken makes a service token for service valid for ttl.
func SignServiceToken(key []byte, service string, now time.Time, ttl time.Duration) (string, error) {
	c := Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: ServiceIssuer, Subject: service, Audience: jwt.ClaimStrings{Audience},
			IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now.Add(-time.Minute)),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		},
		Service: true,
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(key)
}

// ServiceCredentials authenticates a service (einvoice, ewaybill, ...) to
// the others with a short-lived HS256 service token, made afresh before the
// previous one expires.
func ServiceCredentials(key []byte, service string) credentials.PerRPCCredentials {
	return &serviceCreds{key: append([]byte(nil), key...), service: service, ttl: 5 * time.Minute}
}

type serviceCreds struct {
	key     []byte
	service string
	ttl     time.Duration

	mu      sync.Mutex
	token   string
	renewAt time.Time
}

// Token returns the current service token, "Bearer "-less.
func (c *serviceCreds) Token() (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	if c.token != "" && now.Before(c.renewAt) {
		return c.token, nil
	}
	t, err := SignServiceToken(c.key, c.service, now, c.ttl)
	if err != nil {
		return "", err
	}
	c.token, c.renewAt = t, now.Add(c.ttl/2)
	return t, nil
}

func (c *serviceCreds) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	t, err := c.Token()
	if err != nil {
		return nil, err
	}
	return map[string]string{authorizationHeader: "Bearer " + t}, nil
}

// RequireTransportSecurity is false: irpgate's services talk over plain
// gRPC inside the cluster (or in one process); the token is short-lived.
func (c *serviceCreds) RequireTransportSecurity() bool { return false }
