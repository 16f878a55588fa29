package discovery

import (
	"net/netip"
	"sync"
	"time"
)

// sourceLimiter enforces PROTOCOL.md §3.1's "at most 10 answers per second per
// source address" exactly: a source gets an answer only if fewer than
// `per` answers went to it in the last `window`. (A token bucket of rate 10
// and burst 10 would allow up to 19 answers in one second.)
//
// The table of sources is bounded, so a flood of probes with spoofed
// source addresses cannot grow memory: a source whose last answer is older
// than the window has a full allowance again and is forgotten; when the
// table is full of active sources, new sources get no answer until entries
// age out. Refusing is the safe side: an answer to a spoofed source is what
// makes the daemon a reflector.
type sourceLimiter struct {
	per    int
	window time.Duration
	max    int

	mu        sync.Mutex
	sources   map[netip.Addr]*answerTimes
	lastSweep time.Time
}

// answerTimes is a ring of the last `per` answer times to one source.
type answerTimes struct {
	at   []time.Time
	next int // index of the oldest entry once the ring is full
	n    int
}

func newSourceLimiter(per int, window time.Duration, max int) *sourceLimiter {
	return &sourceLimiter{per: per, window: window, max: max, sources: make(map[netip.Addr]*answerTimes)}
}

// allow reports whether src may get an answer at now, and if so counts it.
func (l *sourceLimiter) allow(src netip.Addr, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.lastSweep) >= 10*l.window {
		l.sweep(now)
	}
	h := l.sources[src]
	if h == nil {
		if len(l.sources) >= l.max {
			// Sweeping is O(table); under a flood do it at most ten times
			// per window.
			if now.Sub(l.lastSweep) < l.window/10 {
				return false
			}
			l.sweep(now)
			if len(l.sources) >= l.max {
				return false
			}
		}
		h = &answerTimes{at: make([]time.Time, l.per)}
		l.sources[src] = h
	}
	if h.n == l.per && now.Sub(h.at[h.next]) < l.window {
		return false
	}
	h.at[h.next] = now
	h.next = (h.next + 1) % l.per
	if h.n < l.per {
		h.n++
	}
	return true
}

// sweep forgets sources with no answer inside the window.
func (l *sourceLimiter) sweep(now time.Time) {
	l.lastSweep = now
	for src, h := range l.sources {
		newest := h.at[(h.next+l.per-1)%l.per]
		if now.Sub(newest) >= l.window {
			delete(l.sources, src)
		}
	}
}
