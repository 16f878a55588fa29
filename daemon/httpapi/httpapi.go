// Package httpapi serves the local HTTP interface (SPEC §5): the status
// page, the JSON API, Prometheus metrics and health probes.
package httpapi

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/storebox/storebox/internal/listen"
)

// Server is the local HTTP server.
type Server struct {
	Listen     string
	AdminToken string
	Log        *slog.Logger
	Mux        *http.ServeMux

	lnMu sync.Mutex
	ln   net.Listener // bound and not yet served
	addr net.Addr     // the last bound address
	// onShutdown ends long-lived responses (event streams), which a
	// graceful shutdown would otherwise wait for until its timeout.
	onShutdown []func()
}

// New returns a server with the health endpoints; callers add the rest
// with HandleFunc/Handle/Admin.
func New(listen, adminToken string, log *slog.Logger) *Server {
	s := &Server{Listen: listen, AdminToken: adminToken, Log: log, Mux: http.NewServeMux()}
	s.Mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintln(w, "ok")
	})
	return s
}

// Admin wraps h so it needs "Authorization: Bearer <admin token>".
func (s *Server) Admin(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(tok)), []byte(s.AdminToken)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="storebox"`)
			Error(w, http.StatusUnauthorized, "admin token required: Authorization: Bearer <token from the data directory's admin.token>")
			return
		}
		h(w, r)
	}
}

// Bind opens the listener so a taken port fails the daemon's start. It
// does nothing while a bound listener waits for Serve.
func (s *Server) Bind() error {
	s.lnMu.Lock()
	defer s.lnMu.Unlock()
	if s.ln != nil {
		return nil
	}
	ln, err := listen.TCP("http.listen", s.Listen)
	if err != nil {
		return err
	}
	s.ln, s.addr = ln, ln.Addr()
	return nil
}

// Addr is the bound address.
func (s *Server) Addr() net.Addr {
	s.lnMu.Lock()
	defer s.lnMu.Unlock()
	return s.addr
}

// Close releases a listener that Serve did not take (a failed start).
func (s *Server) Close() error {
	s.lnMu.Lock()
	ln := s.ln
	s.ln = nil
	s.lnMu.Unlock()
	if ln != nil {
		return ln.Close()
	}
	return nil
}

// Serve serves until ctx ends, then shuts down gracefully. It binds if
// Bind was not called; its listener is closed when it returns, so a
// restart binds a fresh one.
func (s *Server) Serve(ctx context.Context) error {
	if err := s.Bind(); err != nil {
		return err
	}
	s.lnMu.Lock()
	ln := s.ln
	s.ln = nil
	s.lnMu.Unlock()
	srv := &http.Server{Handler: s.Mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(s.Log.Handler(), slog.LevelDebug)}
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
