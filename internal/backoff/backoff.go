// Package backoff paces retries: a capped exponential wait, optionally with
// full jitter, and a sleep that ends early when its context does.
package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// Policy is a capped exponential backoff. The wait before retry n (from 0)
// is Min·2ⁿ, at most Max; with Jitter it is a uniformly random duration up
// to that ("full jitter"), so many stores retrying after one outage spread
// out instead of arriving together.
type Policy struct {
	Min, Max time.Duration
	Jitter   bool
}

// Ceiling is the wait before retry n without jitter.
func (p Policy) Ceiling(n int) time.Duration {
	d := p.Min
	for i := 0; i < n && i < 62 && (p.Max <= 0 || d < p.Max); i++ {
		d *= 2
	}
	if p.Max > 0 {
		d = min(d, p.Max)
	}
	return d
}

// Delay is the wait before retry n.
func (p Policy) Delay(n int) time.Duration {
	d := p.Ceiling(n)
	if p.Jitter && d > 0 {
		d = rand.N(d + 1)
	}
	return d
}

// Sleep waits d or until ctx is done, and reports whether the wait ran out
// (false: ctx ended first).
func Sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
