package callerauth

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
	"google.golang.org/grpc"

	authv1 "github.com/irpgate/irpgate/gen/go/irpgate/auth/v1"
)

// ErrUnknownKey is returned for a kid the key set does not hold.
var ErrUnknownKey = errors.New("callerauth: unknown token key")

// GRPCKeySource fetches auth's public keys with GetTokenKeys and caches
// them; an unknown kid fetches the set again, at most once a second, so a
// new signing key is picked up without a restart.
func GRPCKeySource(conn grpc.ClientConnInterface) KeySource {
	return &grpcKeySource{client: authv1.NewAuthServiceClient(conn), keys: map[string]crypto.PublicKey{}, minInterval: time.Second}
}

type grpcKeySource struct {
	client      authv1.AuthServiceClient
	minInterval time.Duration

	mu      sync.Mutex
	keys    map[string]crypto.PublicKey
	fetched time.Time
	group   singleflight.Group
}

func (s *grpcKeySource) PublicKey(ctx context.Context, kid string) (crypto.PublicKey, error) {
	s.mu.Lock()
	k, ok := s.keys[kid]
	recent := time.Since(s.fetched) < s.minInterval
	s.mu.Unlock()
	if ok {
		return k, nil
	}
	if recent {
		return nil, ErrUnknownKey
	}
	_, err, _ := s.group.Do("fetch", func() (any, error) {
		// The fetch serves every waiting caller; it must not die with the first.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		resp, err := s.client.GetTokenKeys(fctx, &authv1.GetTokenKeysRequest{})
		if err != nil {
			return nil, fmt.Errorf("callerauth: fetch token keys: %w", err)
		}
		keys, err := ParseTokenKeys(resp.GetKeys())
		if err != nil {
			return nil, err
		}
		s.mu.Lock()
		s.keys, s.fetched = keys, time.Now()
		s.mu.Unlock()
		return nil, nil
	})
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if k, ok := s.keys[kid]; ok {
		return k, nil
	}
	return nil, ErrUnknownKey
}

// ParseTokenKeys decodes the PEM public keys of a GetTokenKeys answer.
func ParseTokenKeys(in []*authv1.TokenKey) (map[string]crypto.PublicKey, error) {
	out := make(map[string]crypto.PublicKey, len(in))
	for _, k := range in {
		block, _ := pem.Decode([]byte(k.GetPublicKeyPem()))
		if block == nil {
			return nil, fmt.Errorf("callerauth: token key %s is not PEM", k.GetKid())
		}
		pub, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("callerauth: token key %s: %w", k.GetKid(), err)
		}
		out[k.GetKid()] = pub
	}
	return out, nil
}
