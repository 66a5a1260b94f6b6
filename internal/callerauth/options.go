package callerauth

import "time"

// Option adjusts a Verifier.
type Option func(*Verifier)

// WithServiceKey accepts service tokens signed (HS256) with key.
func WithServiceKey(key []byte) Option {
	return func(v *Verifier) { v.serviceKey = append([]byte(nil), key...) }
}

// WithClock sets the clock that judges expiry.
func WithClock(now func() time.Time) Option {
	return func(v *Verifier) { v.now = now }
}

// WithLeeway tolerates this much clock skew between replicas (default 30s).
func WithLeeway(d time.Duration) Option {
	return func(v *Verifier) { v.leeway = d }
}

// WithAPIKeys lets a caller send its API key (metadata x-api-key) instead of a bearer token:
// the key is exchanged for a token through keys, and that token is verified as any other.
func WithAPIKeys(keys *APIKeys) Option {
	return func(v *Verifier) { v.apiKeys = keys }
}
