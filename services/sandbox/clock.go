package sandbox

import (
	"sync"
	"time"
)

// Clock is the sandbox's notion of now. Every time rule (token expiry, 24-hour cancel window,
// retention, replication lag, future dates, reporting window) reads it.
type Clock interface{ Now() time.Time }

// AdjustableClock is a clock the admin endpoint can move.
type AdjustableClock interface {
	Clock
	Advance(d time.Duration)
	Set(t time.Time)
}

// ManualClock stands still until told to move: deterministic tests.
type ManualClock struct {
	mu sync.Mutex
	t  time.Time
}

// NewManualClock returns a clock frozen at t.
func NewManualClock(t time.Time) *ManualClock { return &ManualClock{t: t} }

// Now returns the current manual time.
func (c *ManualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *ManualClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Set moves the clock to t.
func (c *ManualClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// OffsetClock is wall time plus an adjustable offset; the default clock, so that `serve` can
// still be moved through the admin endpoint.
type OffsetClock struct {
	mu  sync.Mutex
	off time.Duration
}

// Now returns wall time plus the offset.
func (c *OffsetClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

// Advance adds d to the offset.
func (c *OffsetClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.off += d
	c.mu.Unlock()
}

// Set makes Now return t from this instant on.
func (c *OffsetClock) Set(t time.Time) {
	c.mu.Lock()
	c.off = time.Until(t)
	c.mu.Unlock()
}
