// Package httpapi serves the local HTTP interface (PROTOCOL.md §5): the status
// page, the JSON API, Prometheus metrics and health probes. Who may use
// them is package webauth's call.
package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/storebox/storebox/daemon/webauth"
	"github.com/storebox/storebox/internal/listen"
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
}

// Server is the local HTTP server. Its gate (webauth.Gate) decides who
// may use each route on Mux: the admin token or a session, except for
// HandleOpen routes; Admin routes need them whatever read_auth says.
type Server struct {
	Listen string
	Log    *slog.Logger
	Mux    *http.ServeMux

	gate *webauth.Gate // who may use which route; the sign-in routes

	ln *listen.Held
	// onShutdown ends long-lived responses (event streams), which a
	// graceful shutdown would otherwise wait for until its timeout.
	onShutdown []func()
}

// New returns a server with the health probe and the sign-in routes;
// callers add the rest on Mux, with HandleOpen or Admin where needed.
func New(cfg Config, log *slog.Logger) *Server {
	s := &Server{Listen: cfg.Listen, Log: log, Mux: http.NewServeMux(), ln: &listen.Held{Key: "http.listen", Addr: cfg.Listen}}
	s.gate = webauth.New(webauth.Config{AdminToken: cfg.AdminToken, ReadAuth: cfg.ReadAuth, MetricsAuth: cfg.MetricsAuth,
		Page: pagePattern, Log: log, JSON: JSON, PageHeaders: setPageHeaders, LANBase: s.LANBase}, s.Mux)
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

// ServeHTTP checks who is asking before the route runs (see Server).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.gate.ServeHTTP(w, r) }

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
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(s.Log.Handler(), slog.LevelDebug)}
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
