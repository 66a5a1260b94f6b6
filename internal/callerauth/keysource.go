package callerauth

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"
	"google.golang.org/grpc"

	authv1 "github.com/irpgate/irpgate/gen/go/irpgate/auth/v1"
)

// ErrUnknownKey is returned for a kid the key set does not hold.
var ErrUnknownKey = errors.New("callerauth: unknown token key")

// GRPCKeySource fetches auth's public keys and revoked API keys with
// GetTokenKeys and caches them. An unknown kid fetches the set again (at most
// once a second), so a new signing key is picked up without a restart; and
// the set is fetched again in the background once it is RevocationRefresh
// old, so a revoked API key stops working here within about that long.
func GRPCKeySource(conn grpc.ClientConnInterface) KeySource {
	return GRPCKeySourceRefreshing(conn, RevocationRefresh)
}

// GRPCKeySourceRefreshing is GRPCKeySource with another refresh interval for
// the list of revoked API keys.
func GRPCKeySourceRefreshing(conn grpc.ClientConnInterface, every time.Duration) KeySource {
	return &grpcKeySource{
		client: authv1.NewAuthServiceClient(conn), keys: map[string]crypto.PublicKey{},
		minInterval: time.Second, refreshEvery: every,
	}
}

// RevocationRefresh is how old GRPCKeySource lets its list of revoked API
// keys grow before it fetches it again.
const RevocationRefresh = 10 * time.Second

type grpcKeySource struct {
	client       authv1.AuthServiceClient
	minInterval  time.Duration
	refreshEvery time.Duration

	mu         sync.Mutex
	keys       map[string]crypto.PublicKey
	revoked    map[string]bool
	fetched    time.Time
	group      singleflight.Group
	refreshing atomic.Bool
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
	if err := s.fetch(ctx); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if k, ok := s.keys[kid]; ok {
		return k, nil
	}
	return nil, ErrUnknownKey
}

// Revoked implements RevocationSource from the last fetched list; a list
// older than refreshEvery is fetched again in the background (the answer
// never waits for it, and a failed fetch keeps the old list).
func (s *grpcKeySource) Revoked(ctx context.Context, keyID string) bool {
	s.mu.Lock()
	r := s.revoked[keyID]
	stale := time.Since(s.fetched) >= s.refreshEvery
	s.mu.Unlock()
	if stale && s.refreshing.CompareAndSwap(false, true) {
		go func() {
			defer s.refreshing.Store(false)
			_ = s.fetch(context.WithoutCancel(ctx))
		}()
	}
	return r
}

// fetch gets the key set and the revoked keys; concurrent callers share one call.
func (s *grpcKeySource) fetch(ctx context.Context) error {
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
		revoked := make(map[string]bool, len(resp.GetRevokedKeyIds()))
		for _, id := range resp.GetRevokedKeyIds() {
			revoked[id] = true
		}
		s.mu.Lock()
		s.keys, s.revoked, s.fetched = keys, revoked, time.Now()
		s.mu.Unlock()
		return nil, nil
	})
	return err
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
