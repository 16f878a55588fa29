package webauth

import (
	"container/list"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/storebox/storebox/internal/peerlimit"
)

// guessLimit slows down guessing the admin token: a client that presented
// a wrong token (sign-in form or bearer) maxFails times within a window is
// refused for the rest of it. A client is an IPv4 address or an IPv6 /64
// (peerlimit.Key): a host picks any address of its /64 at will. The
// generated token is 192 bits, so this matters for a short
// http.admin_token set by hand.
//
// The windows live in a map of at most maxClients entries ordered by last
// use; a wrong guess from a new client past that evicts the least recently
// seen one. Every check is O(1): no scan, whatever an attacker sends.
type guessLimit struct {
	maxFails   int
	maxClients int
	window     time.Duration
	now        func() time.Time

	mu    sync.Mutex
	fails map[netip.Prefix]*list.Element // → *failWindow, in lru
	lru   list.List                      // front: most recently failed
}

type failWindow struct {
	client netip.Prefix
	start  time.Time
	n      int
}

func newGuessLimit() *guessLimit {
	return &guessLimit{maxFails: 10, maxClients: 4096, window: time.Minute, now: time.Now, fails: map[netip.Prefix]*list.Element{}}
}

func clientOf(r *http.Request) netip.Prefix { return peerlimit.KeyOfString(r.RemoteAddr) }

// blocked reports whether r's client used up its wrong guesses.
func (g *guessLimit) blocked(r *http.Request) bool { return g.blockedClient(clientOf(r)) }

// blockedClient reports whether client used up its wrong guesses.
func (g *guessLimit) blockedClient(client netip.Prefix) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	e := g.fails[client]
	if e == nil {
		return false
	}
	f := e.Value.(*failWindow)
	return f.n >= g.maxFails && g.now().Sub(f.start) < g.window
}

// failed counts a wrong token from r's client.
func (g *guessLimit) failed(r *http.Request) {
	now := g.now()
	client := clientOf(r)
	g.mu.Lock()
	defer g.mu.Unlock()
	e := g.fails[client]
	if e == nil {
		if len(g.fails) >= g.maxClients {
			oldest := g.lru.Back()
			delete(g.fails, oldest.Value.(*failWindow).client)
			g.lru.Remove(oldest)
		}
		e = g.lru.PushFront(&failWindow{client: client, start: now})
		g.fails[client] = e
	}
	g.lru.MoveToFront(e)
	f := e.Value.(*failWindow)
	if now.Sub(f.start) >= g.window {
		f.start, f.n = now, 0
	}
	f.n++
}

// clients is how many clients the limiter remembers.
func (g *guessLimit) clients() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.fails)
}
