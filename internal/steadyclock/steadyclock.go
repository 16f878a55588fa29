// Package steadyclock is wall time that moves with the monotonic clock.
//
// Order deadlines are wall times on disk (ExpiresAt), and are compared
// with the wall clock. A wall clock that jumps — NTP setting right a box
// that booted with a dead CMOS battery, a technician's `date -s` — would
// then expire every pending order at once, or keep them for hours. A
// Clock's Now does not jump: it is the wall time at its last anchor plus
// the monotonic time since. Watch compares it with the system's wall
// clock; a difference over the threshold is a jump, handed first to the
// owner of the deadlines (which moves them by it, so each keeps the time
// it had left) and only then taken into Now. Smaller differences (NTP
// slewing) are taken in silently.
//
// Across a restart there is no monotonic reference: a jump while the
// daemon was stopped is not seen.
package steadyclock

import (
	"context"
	"sync"
	"time"
)

// Threshold is the smallest difference Watch treats as a jump.
const Threshold = 2 * time.Second

// Clock is wall time that moves with the monotonic clock.
type Clock struct {
	wall func() time.Time     // the system's wall clock (no monotonic reading)
	mono func() time.Duration // monotonic time since an arbitrary start

	mu         sync.Mutex
	anchorWall time.Time
	anchorMono time.Duration
}

// New is a Clock on the system's clocks, anchored now.
func New() *Clock {
	start := time.Now()
	return NewWith(func() time.Time { return time.Now().Round(0) }, func() time.Duration { return time.Since(start) })
}

// NewWith is a Clock on the given wall and monotonic clocks (tests).
func NewWith(wall func() time.Time, mono func() time.Duration) *Clock {
	return &Clock{wall: wall, mono: mono, anchorWall: wall(), anchorMono: mono()}
}

// Now is the wall time at the last anchor plus the monotonic time since.
func (c *Clock) Now() time.Time {
	m := c.mono()
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.anchorWall.Add(m - c.anchorMono)
}

// Check compares Now with the system's wall clock. A difference over
// Threshold is a jump: jumped gets it (positive: the wall clock went
// forward) before Now takes it in; if jumped fails, Now stays as it was
// and the next Check tries again. It returns the jump (0 when none).
func (c *Clock) Check(jumped func(delta time.Duration) error) (time.Duration, error) {
	w, m := c.wall(), c.mono()
	c.mu.Lock()
	delta := w.Sub(c.anchorWall.Add(m - c.anchorMono))
	c.mu.Unlock()
	if delta > Threshold || delta < -Threshold {
		if err := jumped(delta); err != nil {
			return delta, err
		}
	} else {
		delta = 0
	}
	c.mu.Lock()
	c.anchorWall, c.anchorMono = w, m
	c.mu.Unlock()
	return delta, nil
}

// Watch calls Check every interval until ctx ends; errors go to failed.
func (c *Clock) Watch(ctx context.Context, interval time.Duration, jumped func(delta time.Duration) error, failed func(delta time.Duration, err error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if d, err := c.Check(jumped); err != nil && failed != nil {
				failed(d, err)
			}
		}
	}
}
