package irpclient

import (
	"context"
	"errors"
	"fmt"
)

// sessionExchanger takes the call's session from the SessionSource and,
// when the IRP rejects it (1005), asks the source for a fresh one once and
// replays the call.
type sessionExchanger struct {
	next     exchanger
	sessions SessionSource
}

// ErrNoSessionSource is returned for session-bearing calls on a Client built
// without Config.Sessions.
var ErrNoSessionSource = errors.New("irpclient: Config.Sessions is nil")

func (x *sessionExchanger) exchange(ctx context.Context, r *request) (*response, error) {
	if !r.needsSession {
		return x.next.exchange(ctx, r)
	}
	if r.session == nil {
		if x.sessions == nil {
			return nil, ErrNoSessionSource
		}
		s, err := x.sessions.Session(ctx, r.gstin, r.irp)
		if err != nil {
			return nil, fmt.Errorf("irpclient: %s: session for %s on %s: %w", r.api, r.gstin, r.irp, err)
		}
		r.session = s
	}
	resp, err := x.next.exchange(ctx, r)
	if err == nil || !IsInvalidToken(err) || r.replayed || x.sessions == nil {
		return resp, err
	}
	fresh, rerr := x.sessions.Refresh(ctx, r.session)
	if rerr != nil {
		return nil, fmt.Errorf("irpclient: %s: refresh session after invalid token: %w (IRP said: %w)", r.api, rerr, err)
	}
	r.session = fresh
	r.replayed = true
	return x.next.exchange(ctx, r)
}
