package irpclient

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"time"
)

// retryExchanger retries where it is safe and marks the rest.
//
// Safe: anything that never reached the IRP; reads and auth after any
// transport failure, 5xx or 429. Not safe: a generate or cancel that was
// sent — the IRP may have registered it — which is returned as
// ErrOutcomeUnknown for the caller to reconcile (re-submitting the same
// document yields 2150 with DUPIRN if it was registered).
type retryExchanger struct {
	next      exchanger
	max       int
	base, cap time.Duration
	log       *slog.Logger
}

func (x *retryExchanger) exchange(ctx context.Context, r *request) (*response, error) {
	for retry := 0; ; retry++ {
		r.attempts++
		resp, err := x.next.exchange(ctx, r)
		if err == nil {
			return resp, nil
		}
		if retry >= x.max || ctx.Err() != nil || !retryable(r, err) {
			return nil, settle(r, err)
		}
		delay, ok := retryDelay(err, x.backoff(retry))
		if !ok {
			return nil, settle(r, err)
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < delay {
			return nil, settle(r, err)
		}
		x.log.DebugContext(ctx, "irp retry", slog.String("api", r.api), slog.String("irp", r.irp),
			slog.Int("attempt", r.attempts), slog.Duration("delay", delay), slog.String("error", err.Error()))
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, settle(r, err)
		case <-t.C:
		}
	}
}

// maxRetryAfter is the longest Retry-After a call waits out; a longer one is
// returned to the caller (with the error's RetryAfter) to schedule.
const maxRetryAfter = 30 * time.Second

// retryDelay is how long to wait before the next attempt: the backoff, or the
// IRP's Retry-After when it asks for longer. It reports false when the IRP
// asks for more than maxRetryAfter.
func retryDelay(err error, backoff time.Duration) (time.Duration, bool) {
	var ra time.Duration
	var ie *Error
	var te *TransportError
	switch {
	case errors.As(err, &ie):
		ra = ie.RetryAfter
	case errors.As(err, &te):
		ra = te.RetryAfter
	}
	if ra > maxRetryAfter {
		return 0, false
	}
	return max(backoff, ra), true
}

// backoff is exponential with full jitter.
func (x *retryExchanger) backoff(retry int) time.Duration {
	d := x.base << min(retry, 20)
	if d <= 0 || d > x.cap {
		d = x.cap
	}
	return time.Duration(rand.Int64N(int64(d)) + 1)
}

func retryable(r *request, err error) bool {
	var te *TransportError
	if errors.As(err, &te) {
		switch {
		case !te.Sent:
			return true
		case te.HTTPStatus == http.StatusTooManyRequests:
			return true // rejected before processing
		default:
			return r.idempotent
		}
	}
	var ie *Error
	if errors.As(err, &ie) {
		switch {
		case ie.HTTPStatus == http.StatusTooManyRequests:
			return true
		case ie.HTTPStatus >= 500:
			return r.idempotent
		}
	}
	return false
}

// settle marks a sent, non-idempotent call without a readable answer as an
// unknown outcome.
func settle(r *request, err error) error {
	var te *TransportError
	if errors.As(err, &te) && te.Sent && !r.idempotent && outcomeMayHaveHappened(te.HTTPStatus) {
		te.OutcomeUnknown = true
	}
	return err
}

// outcomeMayHaveHappened: no status (connection dropped, timeout), an
// unreadable 200, or a 5xx. A 4xx without envelope was refused up front.
func outcomeMayHaveHappened(status int) bool {
	return status == 0 || status == http.StatusOK || status >= 500
}
