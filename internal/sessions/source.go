package sessions

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"

	authv1 "github.com/irpgate/irpgate/gen/go/irpgate/auth/v1"
	"github.com/irpgate/irpgate/pkg/irpclient"
)

// AuthSource is an irpclient.SessionSource backed by the auth service.
type AuthSource struct {
	client authv1.AuthServiceClient
	creds  credentials.PerRPCCredentials
	// margin: a cached session is not used this close to its expiry (5 minutes: less than
	// auth's refresh window, so the next ask finds the session auth has already renewed).
	margin time.Duration
	now    func() time.Time

	mu    sync.Mutex
	cache map[string]*irpclient.Session
	group singleflight.Group
}

var _ irpclient.SessionSource = (*AuthSource)(nil)

// Option adjusts an AuthSource.
type Option func(*AuthSource)

// WithClock sets the clock that judges expiry.
func WithClock(now func() time.Time) Option { return func(a *AuthSource) { a.now = now } }

// NewAuthSource returns a SessionSource that calls GetSession and
// RefreshSession on conn, authenticated as a service with creds (see
// callerauth.ServiceCredentials). The service token replaces any caller
// token the call would otherwise forward: end callers never see sessions.
func NewAuthSource(conn grpc.ClientConnInterface, creds credentials.PerRPCCredentials, opts ...Option) *AuthSource {
	a := &AuthSource{
		client: authv1.NewAuthServiceClient(conn), creds: creds,
		margin: 5 * time.Minute, now: time.Now, cache: map[string]*irpclient.Session{},
	}
	for _, o := range opts {
		o(a)
	}
	return a
}

func key(gstin, irp string) string {
	return strings.ToUpper(gstin) + "|" + strings.ToUpper(irp)
}

// Session returns the cached session or asks auth for one.
func (a *AuthSource) Session(ctx context.Context, gstin, irp string) (*irpclient.Session, error) {
	k := key(gstin, irp)
	a.mu.Lock()
	s := a.cache[k]
	a.mu.Unlock()
	if s.ValidFor(a.now(), a.margin) {
		return s, nil
	}
	// A flight that finished between the look-up above and this one has cached the session.
	cached := func() bool {
		a.mu.Lock()
		defer a.mu.Unlock()
		return a.cache[k].ValidFor(a.now(), a.margin)
	}
	return a.fetch(ctx, k, cached, func(ctx context.Context) (*authv1.Session, error) {
		resp, err := a.client.GetSession(ctx, &authv1.GetSessionRequest{Gstin: gstin, Irp: irp})
		return resp.GetSession(), err
	})
}

// Refresh asks auth to replace a session the IRP rejected, unless a newer
// one is already cached.
func (a *AuthSource) Refresh(ctx context.Context, stale *irpclient.Session) (*irpclient.Session, error) {
	if stale == nil {
		return nil, errors.New("sessions: Refresh without a session")
	}
	k := key(stale.GSTIN, stale.IRP)
	a.mu.Lock()
	s := a.cache[k]
	if s != nil && s.AuthToken == stale.AuthToken {
		delete(a.cache, k)
		s = nil
	}
	a.mu.Unlock()
	if s.ValidFor(a.now(), 0) {
		return s, nil
	}
	// A flight that finished just before this one started has already
	// replaced the stale token: use its answer.
	replaced := func() bool {
		a.mu.Lock()
		defer a.mu.Unlock()
		s := a.cache[k]
		return s != nil && s.AuthToken != stale.AuthToken && s.ValidFor(a.now(), 0)
	}
	return a.fetch(ctx, k+"|refresh", replaced, func(ctx context.Context) (*authv1.Session, error) {
		resp, err := a.client.RefreshSession(ctx, &authv1.RefreshSessionRequest{
			Gstin: stale.GSTIN, Irp: stale.IRP, StaleAuthToken: stale.AuthToken,
		})
		return resp.GetSession(), err
	})
}

func (a *AuthSource) fetch(ctx context.Context, flight string, done func() bool, call func(context.Context) (*authv1.Session, error)) (*irpclient.Session, error) {
	k, _, _ := strings.Cut(flight, "|refresh")
	ch := a.group.DoChan(flight, func() (any, error) {
		if done() {
			a.mu.Lock()
			defer a.mu.Unlock()
			return a.cache[k], nil
		}
		// Shared by every waiting caller: it must not die with the first one.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		defer cancel()
		cctx, err := a.outgoing(cctx)
		if err != nil {
			return nil, err
		}
		p, err := call(cctx)
		if err != nil {
			return nil, err
		}
		s := &irpclient.Session{
			GSTIN: p.GetGstin(), IRP: p.GetIrp(), UserName: p.GetUsername(), ClientID: p.GetClientId(),
			ClientSecret: p.GetClientSecret(), AuthToken: p.GetAuthToken(), SEK: p.GetSek(),
			Expiry: p.GetExpireTime().AsTime(),
		}
		a.mu.Lock()
		a.cache[key(s.GSTIN, s.IRP)] = s
		a.mu.Unlock()
		return s, nil
	})
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.(*irpclient.Session), nil
	}
}

// outgoing puts the service token in the call's metadata itself, so
// platform.DialOptions does not forward the end caller's token instead.
func (a *AuthSource) outgoing(ctx context.Context) (context.Context, error) {
	if a.creds == nil {
		return ctx, nil
	}
	md, err := a.creds.GetRequestMetadata(ctx)
	if err != nil {
		return nil, err
	}
	out, _ := metadata.FromOutgoingContext(ctx)
	out = out.Copy()
	for k, v := range md {
		out.Set(k, v)
	}
	return metadata.NewOutgoingContext(ctx, out), nil
}
