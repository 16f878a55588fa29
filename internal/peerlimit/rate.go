package peerlimit

import (
	"container/list"
	"net/netip"
	"sync"
	"time"
)

// Rate is a token bucket per client: a client may do burst things at once,
// then one more every interval. It remembers at most maxRateClients
// clients, ordered by last use; a new client past that evicts the least
// recently seen one, whose bucket is the fullest anyway. Every call is
// O(1): no scan, whatever an attacker sends.
type Rate struct {
	burst    float64
	interval time.Duration
	now      func() time.Time

	mu      sync.Mutex
	clients map[netip.Prefix]*list.Element // → *bucket, in lru
	lru     list.List                      // front: most recently used
}

// maxRateClients bounds the clients a Rate remembers.
const maxRateClients = 4096

type bucket struct {
	client netip.Prefix
	tokens float64 // as of last
	last   time.Time
}

// NewRate lets each client do burst things at once and then one every
// interval (burst < 1 counts as 1).
func NewRate(burst int, interval time.Duration) *Rate {
	return &Rate{burst: float64(max(burst, 1)), interval: interval, now: time.Now, clients: map[netip.Prefix]*list.Element{}}
}

// tokens is b's tokens at now.
func (r *Rate) tokens(b *bucket, now time.Time) float64 {
	if r.interval <= 0 {
		return r.burst
	}
	return min(r.burst, b.tokens+float64(now.Sub(b.last))/float64(r.interval))
}

// Allow takes one of client k's tokens; false when it has none left.
func (r *Rate) Allow(k netip.Prefix) bool {
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.clients[k]
	if e == nil {
		if len(r.clients) >= maxRateClients {
			oldest := r.lru.Back()
			delete(r.clients, oldest.Value.(*bucket).client)
			r.lru.Remove(oldest)
		}
		e = r.lru.PushFront(&bucket{client: k, tokens: r.burst, last: now})
		r.clients[k] = e
	}
	r.lru.MoveToFront(e)
	b := e.Value.(*bucket)
	b.tokens, b.last = r.tokens(b, now), now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// Exhausted reports whether client k has no token left now, without
// taking one: the caller may then refuse k's connections as they are
// accepted, before they cost more.
func (r *Rate) Exhausted(k netip.Prefix) bool {
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.clients[k]
	return e != nil && r.tokens(e.Value.(*bucket), now) < 1
}
