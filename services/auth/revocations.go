package auth

import (
	"context"
	"crypto"
	"sync"
	"sync/atomic"
	"time"

	"github.com/irpgate/irpgate/internal/callerauth"
	"github.com/irpgate/irpgate/internal/store"
)

// revocations is the list of API keys revoked within a token's lifetime: the
// tokens issued to them have not expired yet, so verifiers must refuse them.
// It is read from the database, so every auth replica learns of a revocation
// made on another within callerauth.RevocationRefresh.
type revocations struct {
	db     *store.DB
	now    func() time.Time
	window time.Duration // a token's lifetime and the verifiers' leeway
	every  time.Duration

	mu      sync.Mutex
	ids     map[string]bool
	loaded  time.Time
	loading atomic.Bool
}

func newRevocations(db *store.DB, now func() time.Time, tokenTTL time.Duration) *revocations {
	return &revocations{db: db, now: now, window: tokenTTL + time.Minute, every: callerauth.RevocationRefresh, ids: map[string]bool{}}
}

// list reads the key IDs revoked within the window from the database.
func (r *revocations) list(ctx context.Context) ([]string, error) {
	rows, err := r.db.QueryContext(ctx, `SELECT key_id FROM auth_api_keys WHERE revoked_ms > $1 ORDER BY key_id`,
		r.now().Add(-r.window).UnixMilli())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// load replaces the cached set with the database's.
func (r *revocations) load(ctx context.Context) error {
	ids, err := r.list(ctx)
	if err != nil {
		return err
	}
	set := make(map[string]bool, len(ids))
	for _, id := range ids {
		set[id] = true
	}
	r.mu.Lock()
	r.ids, r.loaded = set, time.Now()
	r.mu.Unlock()
	return nil
}

// add records a revocation made by this replica at once.
func (r *revocations) add(keyID string) {
	r.mu.Lock()
	r.ids[keyID] = true
	r.mu.Unlock()
}

// Revoked answers from the cached set and reloads it in the background once it
// is older than every; a failed reload keeps the old set.
func (r *revocations) Revoked(ctx context.Context, keyID string) bool {
	r.mu.Lock()
	revoked := r.ids[keyID]
	stale := time.Since(r.loaded) >= r.every
	r.mu.Unlock()
	if stale && r.loading.CompareAndSwap(false, true) {
		go func() {
			defer r.loading.Store(false)
			lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			_ = r.load(lctx)
		}()
	}
	return revoked
}

// ownKeys is the key source of verifiers in auth's own process: the signer's
// key, and the revocations without a network hop.
type ownKeys struct {
	signer *tokenSigner
	*revocations
}

func (k ownKeys) PublicKey(ctx context.Context, kid string) (crypto.PublicKey, error) {
	return k.signer.PublicKey(ctx, kid)
}
