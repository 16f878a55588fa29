// Package webauth decides who may use the local HTTP server (PROTOCOL.md §5):
// the admin token and its file, signed session cookies, one-time sign-in
// links with their QR code, the sign-in form and the wrong-token limit.
package webauth

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"path/filepath"
	"time"
)

// Config is what the gate is told at construction.
type Config struct {
	AdminToken string
	// ReadAuth puts the page and every route not registered with
	// HandleOpen behind the token or a session (http.read_auth).
	ReadAuth bool
	// MetricsAuth puts the metrics route behind them too (http.metrics_auth).
	MetricsAuth bool
	// Page is the status page's route: without a session it sends the
	// browser to the sign-in form.
	Page string
	Log  *slog.Logger
	// JSON writes a JSON reply the way the rest of the server does.
	JSON func(w http.ResponseWriter, status int, v any)
	// PageHeaders sets the security headers of the server's HTML pages.
	PageHeaders func(http.Header)
	// LANBase is the server as a phone on the LAN reaches it (http://host:port),
	// the start of every one-time sign-in link.
	LANBase func() string
	// DataDir, if set, keeps the sign-out list in SignedOutFile there, so
	// a restart does not bring a signed-out cookie back.
	DataDir string
}

// Gate serves a mux's routes to those who may use them. Every route
// needs the admin token or a signed-in session, except those added with
// HandleOpen; with read_auth off, GET and HEAD requests are open too.
// Routes that change things wrap their handler in Admin as well, so a
// trusted LAN still cannot approve a device without the token.
type Gate struct {
	cfg     Config
	mux     *http.ServeMux
	auth    *auth
	guesses *guessLimit
	open    map[string]bool // patterns served without authentication
}

// New returns a gate in front of mux with the sign-in routes mounted on it.
func New(cfg Config, mux *http.ServeMux) *Gate {
	g := &Gate{cfg: cfg, mux: mux, auth: newAuth(cfg.AdminToken, cfg.ReadAuth, cfg.MetricsAuth),
		guesses: newGuessLimit(), open: map[string]bool{}}
	if cfg.DataDir != "" {
		g.auth.signedOutFile = filepath.Join(cfg.DataDir, SignedOutFile)
		if err := g.auth.ended.load(g.auth.signedOutFile, time.Now()); err != nil && cfg.Log != nil {
			cfg.Log.Warn("sign-outs before this start are forgotten", "err", err)
		}
	}
	g.mountSignIn()
	return g
}

// HandleOpen registers a route anyone on the LAN may use: probes,
// static files, a payment provider's notify callback.
func (g *Gate) HandleOpen(pattern string, h http.Handler) {
	g.mux.Handle(pattern, h)
	g.open[pattern] = true
}

// HandleMetrics registers pattern (the Prometheus endpoint): open, unless
// http.metrics_auth asks for the token (then even with read_auth off).
func (g *Gate) HandleMetrics(pattern string, h http.Handler) {
	if !g.auth.metricsAuth {
		g.HandleOpen(pattern, h)
		return
	}
	g.HandleOpen(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := g.auth.session(r); !ok && !g.auth.bearer(r) {
			g.unauthorized(w)
			return
		}
		h.ServeHTTP(w, r)
	}))
}

// Admin wraps h so it needs "Authorization: Bearer <admin token>" or a
// signed-in session on a same-origin request, whatever read_auth says.
func (g *Gate) Admin(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !g.auth.admin(r) {
			g.unauthorized(w)
			return
		}
		h(w, r)
	}
}

func (g *Gate) unauthorized(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="storebox"`)
	g.error(w, http.StatusUnauthorized, "admin token required: sign in on the status page, or send Authorization: Bearer <token from the data directory's admin.token>")
}

// Blocked reports whether client (peerlimit.Key) used up its wrong
// tokens for the current minute: the server may then refuse its
// connections as they are accepted, before they cost a request.
func (g *Gate) Blocked(client netip.Prefix) bool { return g.guesses.blockedClient(client) }

func (g *Gate) tooManyGuesses(w http.ResponseWriter) {
	w.Header().Set("Retry-After", "60")
	g.error(w, http.StatusTooManyRequests, "too many wrong admin tokens from this address; wait a minute")
}

func (g *Gate) error(w http.ResponseWriter, status int, msg string) {
	g.cfg.JSON(w, status, map[string]string{"error": msg})
}

// ServeHTTP checks who is asking before the route runs (see Gate).
func (g *Gate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "" {
		if g.guesses.blocked(r) {
			g.tooManyGuesses(w)
			return
		}
		if !g.auth.bearer(r) {
			g.guesses.failed(r)
		}
	}
	_, pattern := g.mux.Handler(r)
	if pattern == "" || g.open[pattern] {
		g.mux.ServeHTTP(w, r)
		return
	}
	read := r.Method == http.MethodGet || r.Method == http.MethodHead
	exp, ok := g.auth.reader(r)
	if !read {
		ok = g.auth.admin(r)
	}
	if !ok {
		if pattern == g.cfg.Page {
			http.Redirect(w, r, "/signin", http.StatusSeeOther)
			return
		}
		g.unauthorized(w)
		return
	}
	if !exp.IsZero() {
		// A live stream ends with the session that opened it: at its
		// expiry, or when it signs out.
		ctx, cancel := context.WithDeadline(r.Context(), exp)
		defer cancel()
		defer g.auth.watch(r, cancel)()
		if _, still := g.auth.session(r); !still { // signed out meanwhile
			cancel()
		}
		r = r.WithContext(ctx)
	}
	g.mux.ServeHTTP(w, r)
}
