package sandbox

import (
	"net"
	"net/http"
	"slices"
	"strconv"
	"time"

	"golang.org/x/time/rate"
)

// faultState is a Faults value with its rate limiters.
type faultState struct {
	f        Faults
	limiters map[string]*rate.Limiter
}

// SetFaults replaces the fault configuration (rate limiters start full).
func (s *Sandbox) SetFaults(f Faults) {
	st := &faultState{f: f, limiters: map[string]*rate.Limiter{}}
	if f.RateLimit > 0 {
		b := f.Burst
		if b <= 0 {
			b = max(1, int(f.RateLimit))
		}
		for _, in := range []string{NIC1, NIC2} {
			st.limiters[in] = rate.NewLimiter(rate.Limit(f.RateLimit), b)
		}
	}
	s.faultMu.Lock()
	s.faults = st
	s.faultMu.Unlock()
}

// Faults returns the current fault configuration.
func (s *Sandbox) Faults() Faults {
	s.faultMu.RLock()
	defer s.faultMu.RUnlock()
	return s.faults.f
}

func (s *Sandbox) faultState() *faultState {
	s.faultMu.RLock()
	defer s.faultMu.RUnlock()
	return s.faults
}

func (st *faultState) applies(op, inst string) bool {
	if len(st.f.Only) > 0 && !slices.Contains(st.f.Only, op) {
		return false
	}
	if len(st.f.Instances) > 0 && !slices.Contains(st.f.Instances, inst) {
		return false
	}
	return true
}

type failKind int

const (
	failNone failKind = iota
	fail5xx
	failReset
	failTimeout
)

func (s *Sandbox) pickKind(m ErrorMix) failKind {
	a, b, c := m.HTTP5xx, m.Reset, m.Timeout
	if a <= 0 && b <= 0 && c <= 0 {
		a, b, c = 1, 1, 1
	}
	x := s.rand() * (a + b + c)
	switch {
	case x < a:
		return fail5xx
	case x < a+b:
		return failReset
	default:
		return failTimeout
	}
}

// before applies latency, outages, rate limits and injected errors. It reports whether the
// request was answered (and must not be handled).
func (s *Sandbox) before(w http.ResponseWriter, r *http.Request, op, inst string) bool {
	st := s.faultState()
	if !st.applies(op, inst) {
		return false
	}
	f := st.f
	if l := f.Latency; l.Base > 0 || l.Jitter > 0 || l.SlowRate > 0 {
		d := l.Base
		if l.Jitter > 0 {
			d += time.Duration(s.rand() * float64(l.Jitter))
		}
		if l.SlowRate > 0 && s.rand() < l.SlowRate {
			d += l.Slow
		}
		if !sleepCtx(r, d) {
			return true
		}
	}
	now := s.now()
	for _, o := range f.Outages {
		if (o.Instance == "" || o.Instance == inst) && !now.Before(o.From) && (o.To.IsZero() || now.Before(o.To)) {
			s.stats.faults.Add(1)
			http.Error(w, "Service Unavailable: "+inst+" is down for maintenance", http.StatusServiceUnavailable)
			return true
		}
	}
	if lim := st.limiters[inst]; lim != nil && !lim.Allow() {
		s.stats.rateLimited.Add(1)
		w.Header().Set("Retry-After", strconv.Itoa(max(f.RetryAfterSeconds, 1)))
		writeJSON(w, http.StatusTooManyRequests, envelope{Status: 0, ErrorDetails: []nicError{{ErrorCode: "429", ErrorMessage: "Too many requests, rate limit exceeded"}}})
		return true
	}
	if f.ErrorRate > 0 && s.rand() < f.ErrorRate {
		s.stats.faults.Add(1)
		s.fail(w, r, s.pickKind(f.ErrorMix), f.TimeoutAfter)
		return true
	}
	return false
}

// answerLost decides whether the answer to a successful write is lost.
func (s *Sandbox) answerLost(op, inst string) failKind {
	st := s.faultState()
	if st.f.AnswerLostRate <= 0 || !st.applies(op, inst) || s.rand() >= st.f.AnswerLostRate {
		return failNone
	}
	s.stats.lost.Add(1)
	return s.pickKind(st.f.ErrorMix)
}

func (s *Sandbox) fail(w http.ResponseWriter, r *http.Request, k failKind, timeoutAfter time.Duration) {
	switch k {
	case failReset:
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				if tc, ok := conn.(*net.TCPConn); ok {
					_ = tc.SetLinger(0) // RST, not FIN: a "connection reset by peer".
				}
				_ = conn.Close()
				return
			}
		}
		panic(http.ErrAbortHandler) // HTTP/2 or no hijack: abort the stream.
	case failTimeout:
		if timeoutAfter <= 0 {
			timeoutAfter = 60 * time.Second
		}
		sleepCtx(r, timeoutAfter)
		http.Error(w, "Gateway Timeout", http.StatusGatewayTimeout)
	default:
		http.Error(w, "Internal Server Error", http.StatusInternalServerError)
	}
}

// sleepCtx waits d or until the client goes away; false if it went away.
func sleepCtx(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}
