package webauth

import (
	"net"
	"net/http"
	"sync"
	"time"
)

// guessLimit slows down guessing the admin token: a source address that
// presented a wrong token (sign-in form or bearer) maxFails times within
// a window is refused for the rest of it. The generated token is 192 bits,
// so this matters for a short http.admin_token set by hand.
type guessLimit struct {
	maxFails int
	window   time.Duration
	now      func() time.Time

	mu    sync.Mutex
	fails map[string]*failWindow
}

type failWindow struct {
	start time.Time
	n     int
}

func newGuessLimit() *guessLimit {
	return &guessLimit{maxFails: 10, window: time.Minute, now: time.Now, fails: map[string]*failWindow{}}
}

func sourceOf(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// blocked reports whether r's source used up its wrong guesses.
func (g *guessLimit) blocked(r *http.Request) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	f := g.fails[sourceOf(r)]
	return f != nil && f.n >= g.maxFails && g.now().Sub(f.start) < g.window
}

// failed counts a wrong token from r's source.
func (g *guessLimit) failed(r *http.Request) {
	now := g.now()
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.fails) > 4096 { // bounded: forget windows that are over
		for k, f := range g.fails {
			if now.Sub(f.start) >= g.window {
				delete(g.fails, k)
			}
		}
	}
	src := sourceOf(r)
	f := g.fails[src]
	if f == nil || now.Sub(f.start) >= g.window {
		f = &failWindow{start: now}
		g.fails[src] = f
	}
	f.n++
}
