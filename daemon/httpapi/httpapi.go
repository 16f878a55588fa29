// Package httpapi serves the local HTTP interface (PROTOCOL.md §5): the status
// page, the JSON API, Prometheus metrics and health probes. Who may use
// them is package webauth's call.
package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/storebox/storebox/daemon/webauth"
	"github.com/storebox/storebox/internal/listen"
	"github.com/storebox/storebox/internal/peerlimit"
)

// Config is what the server is told at construction.
type Config struct {
	Listen     string
	AdminToken string
	// ReadAuth puts the page and every endpoint not registered with
	// HandleOpen behind the token or a session (http.read_auth).
	ReadAuth bool
	// MetricsAuth puts /metrics behind them too (http.metrics_auth).
	MetricsAuth bool
	// ReadTimeout bounds reading a request's headers, and its body from
	// the handler's start (http.read_timeout; 30 s when zero). A request
	// without a body, such as the event stream, has no read deadline
	// once its headers are in.
	ReadTimeout time.Duration
	// IdleTimeout closes a keep-alive connection that sends no request
	// (http.idle_timeout; 60 s when zero).
	IdleTimeout time.Duration
	// MaxConnsPerAddress caps the open connections of one client, an IPv4
	// address or an IPv6 /64 (http.max_conns_per_address; 64 when zero).
	MaxConnsPerAddress int
	// DataDir keeps state a restart must not lose: the sign-out list.
	DataDir string
}

// Server is the local HTTP server. Its gate (webauth.Gate) decides who
// may use each route on Mux: the admin token or a session, except for
// HandleOpen routes; Admin routes need them whatever read_auth says.
type Server struct {
	Listen string
	Log    *slog.Logger
	Mux    *http.ServeMux

	gate *webauth.Gate // who may use which route; the sign-in routes

	readTimeout, idleTimeout time.Duration
	perClient                *peerlimit.Counter
	refusedLog               atomic.Int64 // unix seconds of the last refusal logged

	ln *listen.Held
	// onShutdown ends long-lived responses (event streams), which a
	// graceful shutdown would otherwise wait for until its timeout.
	onShutdown []func()
}

// New returns a server with the health probe and the sign-in routes;
// callers add the rest on Mux, with HandleOpen or Admin where needed.
func New(cfg Config, log *slog.Logger) *Server {
	if cfg.ReadTimeout <= 0 {
		cfg.ReadTimeout = 30 * time.Second
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 60 * time.Second
	}
	if cfg.MaxConnsPerAddress <= 0 {
		cfg.MaxConnsPerAddress = 64
	}
	s := &Server{Listen: cfg.Listen, Log: log, Mux: http.NewServeMux(), ln: &listen.Held{Key: "http.listen", Addr: cfg.Listen},
		readTimeout: cfg.ReadTimeout, idleTimeout: cfg.IdleTimeout, perClient: peerlimit.NewCounter(cfg.MaxConnsPerAddress)}
	s.gate = webauth.New(webauth.Config{AdminToken: cfg.AdminToken, ReadAuth: cfg.ReadAuth, MetricsAuth: cfg.MetricsAuth,
		Page: pagePattern, Log: log, JSON: JSON, PageHeaders: setPageHeaders, LANBase: s.LANBase, DataDir: cfg.DataDir}, s.Mux)
	s.HandleOpen("GET /healthz", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintln(w, "ok")
	}))
	return s
}

// HandleOpen registers a route anyone on the LAN may use: probes,
// static files, a payment provider's notify callback.
func (s *Server) HandleOpen(pattern string, h http.Handler) { s.gate.HandleOpen(pattern, h) }

// HandleMetrics registers the Prometheus endpoint: open, unless
// http.metrics_auth asks for the token (then even with read_auth off).
func (s *Server) HandleMetrics(h http.Handler) { s.gate.HandleMetrics("GET /metrics", h) }

// Admin wraps h so it needs "Authorization: Bearer <admin token>" or a
// signed-in session on a same-origin request, whatever read_auth says.
func (s *Server) Admin(h http.HandlerFunc) http.HandlerFunc { return s.gate.Admin(h) }

// ServeHTTP checks who is asking before the route runs (see Server). A
// request body must arrive within the read timeout; the deadline is
// lifted once it has, so a long handler keeps its context.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0 {
		rc := http.NewResponseController(w)
		if rc.SetReadDeadline(time.Now().Add(s.readTimeout)) == nil {
			r.Body = &deadlineBody{ReadCloser: r.Body, lift: func() { rc.SetReadDeadline(time.Time{}) }}
		}
	}
	s.gate.ServeHTTP(w, r)
}

// deadlineBody lifts the connection's read deadline when the body is
// read to its end or closed.
type deadlineBody struct {
	io.ReadCloser
	once sync.Once
	lift func()
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		b.once.Do(b.lift)
	}
	return n, err
}

func (b *deadlineBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(b.lift)
	return err
}

// refusalAnswers is how many refused connections of one client are
// answered with a 429 at once, and then one a second; the others are closed
// unanswered (PROTOCOL.md §5).
const refusalAnswers = 4

// refuse answers a connection over the per-client cap, or of a client
// that used up its wrong tokens, with a 429, and logs the first kind at
// most once every 10 s.
func (s *Server) refuse(c net.Conn, client netip.Prefix, guessing bool) {
	if guessing {
		const body = `{"error": "too many wrong admin tokens from this address; wait a minute"}` + "\n"
		fmt.Fprintf(c, "HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\nRetry-After: 60\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
		return
	}
	const body = "too many connections from this address\n"
	fmt.Fprintf(c, "HTTP/1.1 429 Too Many Requests\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	now := time.Now().Unix()
	if last := s.refusedLog.Load(); now-last >= 10 && s.refusedLog.CompareAndSwap(last, now) {
		s.Log.Warn("http: connection refused, client at its cap (http.max_conns_per_address)", "client", client, "open", s.perClient.Open(client))
	}
}

// Bind opens the listener so a taken port fails the daemon's start. It
// does nothing while a bound listener waits for Serve.
func (s *Server) Bind() error { return s.ln.Bind() }

// Addr is the bound address.
func (s *Server) Addr() net.Addr { return s.ln.Bound() }

// Close releases a listener that Serve did not take (a failed start).
func (s *Server) Close() error { return s.ln.Close() }

// Serve serves until ctx ends, then shuts down gracefully. It binds if
// Bind was not called; its listener is closed when it returns, so a
// restart binds a fresh one.
func (s *Server) Serve(ctx context.Context) error {
	ln, err := s.ln.Take()
	if err != nil {
		return err
	}
	// A client refused for wrong tokens is refused as it connects: a spray
	// then costs an accept, not a request.
	ln = &peerlimit.Listener{Listener: ln, Counter: s.perClient, Deny: s.gate.Blocked, Refuse: s.refuse,
		Answers: peerlimit.NewRate(refusalAnswers, time.Second)}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: s.readTimeout, IdleTimeout: s.idleTimeout,
		ErrorLog: slog.NewLogLogger(s.Log.Handler(), slog.LevelDebug)}
	for _, f := range s.onShutdown {
		srv.RegisterOnShutdown(f)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
		return nil
	case err := <-errc:
		srv.Close()
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("http serve: %w", err)
	}
}

// JSON writes v as JSON.
func JSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// Error writes {"error": msg}.
func Error(w http.ResponseWriter, status int, msg string) {
	JSON(w, status, map[string]string{"error": msg})
}
