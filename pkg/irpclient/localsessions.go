package irpclient

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// Authenticator is what LocalSessions needs from a Client.
type Authenticator interface {
	Authenticate(ctx context.Context, cr Credentials, forceRefresh bool) (*Session, error)
}

// LocalSessions is an in-memory SessionSource for users who import the
// package alone: one session per GSTIN and IRP, authenticated once however
// many calls ask at the same time, and renewed before it expires.
type LocalSessions struct {
	auth       Authenticator
	creds      func(gstin, irp string) (Credentials, error)
	defaultIRP string
	margin     time.Duration
	now        func() time.Time

	mu    sync.Mutex
	cache map[string]*Session
	group singleflight.Group
}

// LocalSessionsOption adjusts LocalSessions.
type LocalSessionsOption func(*LocalSessions)

// WithRefreshMargin renews a session this long before its expiry (default 10 min,
// the window in which NIC honours ForceRefreshAccessToken).
func WithRefreshMargin(d time.Duration) LocalSessionsOption {
	return func(l *LocalSessions) { l.margin = d }
}

// WithClock sets the clock used to judge expiry (tests, the sandbox's manual clock).
func WithClock(now func() time.Time) LocalSessionsOption {
	return func(l *LocalSessions) { l.now = now }
}

// NewLocalSessions returns a SessionSource that authenticates with c using
// the credentials creds returns for a GSTIN and IRP.
func NewLocalSessions(c *Client, creds func(gstin, irp string) (Credentials, error), opts ...LocalSessionsOption) *LocalSessions {
	l := newLocalSessions(c, creds, opts...)
	l.defaultIRP = c.DefaultIRP()
	return l
}

func newLocalSessions(a Authenticator, creds func(gstin, irp string) (Credentials, error), opts ...LocalSessionsOption) *LocalSessions {
	l := &LocalSessions{auth: a, creds: creds, margin: 10 * time.Minute, now: time.Now, cache: map[string]*Session{}}
	for _, o := range opts {
		o(l)
	}
	return l
}

func (l *LocalSessions) key(gstin, irp string) (string, string) {
	irp = strings.ToUpper(irp)
	if irp == "" {
		irp = l.defaultIRP
	}
	return gstin + "|" + irp, irp
}

// Session returns the cached session, or authenticates.
func (l *LocalSessions) Session(ctx context.Context, gstin, irp string) (*Session, error) {
	k, irp := l.key(gstin, irp)
	l.mu.Lock()
	s := l.cache[k]
	l.mu.Unlock()
	if s.ValidFor(l.now(), l.margin) {
		return s, nil
	}
	// Near expiry NIC hands out a new token only when forced.
	return l.authenticate(ctx, k, gstin, irp, s != nil, "")
}

// Refresh replaces a session the IRP rejected, unless another caller
// already did.
func (l *LocalSessions) Refresh(ctx context.Context, stale *Session) (*Session, error) {
	if stale == nil {
		return nil, fmt.Errorf("irpclient: Refresh without a session")
	}
	k, irp := l.key(stale.GSTIN, stale.IRP)
	l.mu.Lock()
	s := l.cache[k]
	l.mu.Unlock()
	if s != nil && s.AuthToken != stale.AuthToken && s.ValidFor(l.now(), 0) {
		return s, nil
	}
	return l.authenticate(ctx, k, stale.GSTIN, irp, true, stale.AuthToken)
}

// Invalidate drops the cached session of a GSTIN on an IRP.
func (l *LocalSessions) Invalidate(gstin, irp string) {
	k, _ := l.key(gstin, irp)
	l.mu.Lock()
	delete(l.cache, k)
	l.mu.Unlock()
}

func (l *LocalSessions) authenticate(ctx context.Context, k, gstin, irp string, force bool, staleToken string) (*Session, error) {
	flight := k
	if force {
		flight += "|force|" + staleToken
	}
	// The shared authentication must not die with the first caller's context.
	actx := context.WithoutCancel(ctx)
	ch := l.group.DoChan(flight, func() (any, error) {
		l.mu.Lock()
		cur := l.cache[k]
		l.mu.Unlock()
		if cur.ValidFor(l.now(), l.margin) && (!force || cur.AuthToken != staleToken) {
			return cur, nil
		}
		cr, err := l.creds(gstin, irp)
		if err != nil {
			return nil, fmt.Errorf("irpclient: credentials for %s on %s: %w", gstin, irp, err)
		}
		if cr.IRP == "" {
			cr.IRP = irp
		}
		if cr.GSTIN == "" {
			cr.GSTIN = gstin
		}
		actx, cancel := context.WithTimeout(actx, 2*time.Minute)
		defer cancel()
		s, err := l.auth.Authenticate(actx, cr, force)
		if err != nil {
			return nil, err
		}
		l.mu.Lock()
		l.cache[k] = s
		l.mu.Unlock()
		return s, nil
	})
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.(*Session), nil
	}
}
