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
	"time"
)

// Server is the local HTTP server.
type Server struct {
	Listen     string
	AdminToken string
	Log        *slog.Logger
	Mux        *http.ServeMux

	ln  net.Listener
	srv *http.Server
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

// Bind opens the listener so a taken port fails the daemon's start.
func (s *Server) Bind() error {
	ln, err := net.Listen("tcp", s.Listen)
	if err != nil {
		var oe *net.OpError
		if errors.As(err, &oe) && oe.Err != nil {
			err = oe.Err
			var se interface{ Unwrap() error }
			if errors.As(err, &se) && se.Unwrap() != nil {
				err = se.Unwrap()
			}
		}
		return fmt.Errorf("http.listen %s: %w", s.Listen, err)
	}
	s.ln = ln
	return nil
}

// Addr is the bound address.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Serve serves until ctx ends, then shuts down gracefully.
func (s *Server) Serve(ctx context.Context) error {
	if s.ln == nil {
		if err := s.Bind(); err != nil {
			return err
		}
	}
	s.srv = &http.Server{Handler: s.Mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(s.Log.Handler(), slog.LevelDebug)}
	for _, f := range s.onShutdown {
		s.srv.RegisterOnShutdown(f)
	}
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(s.ln) }()
	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		s.srv.Shutdown(sctx)
		return nil
	case err := <-errc:
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
