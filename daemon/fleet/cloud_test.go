package fleet

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/storebox/storebox/protocol/fleetmsg"
	"github.com/storebox/storebox/protocol/ledger"
	"github.com/storebox/storebox/sync/fleetlink"
	"github.com/storebox/storebox/sync/upstream"
)

const secret = "fleet-secret"

// testCloud is a real HTTP server playing the cloud's fleet endpoints.
type testCloud struct {
	t  *testing.T
	hs *httptest.Server

	mu     sync.Mutex
	health []fleetmsg.Health
	down   bool
	config func(w http.ResponseWriter, r *http.Request)
}

func newTestCloud(t *testing.T) *testCloud {
	c := &testCloud{t: t}
	mux := http.NewServeMux()
	mux.HandleFunc("PUT /v1/stores/s1/health", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if err := ledger.Verify(secret, r.Header.Get(ledger.HeaderSignature), b, time.Now()); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.down {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		h, err := fleetmsg.DecodeHealth(b)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		c.health = append(c.health, h)
		w.WriteHeader(204)
	})
	mux.HandleFunc("GET /v1/stores/s1/config", func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		f := c.config
		c.mu.Unlock()
		if f == nil {
			http.Error(w, "none", 404)
			return
		}
		f(w, r)
	})
	c.hs = httptest.NewServer(mux)
	t.Cleanup(c.hs.Close)
	return c
}

func (c *testCloud) link(timeout time.Duration) *fleetlink.HTTP {
	return fleetlink.NewHTTP(upstream.New(c.hs.URL, "s1", secret, timeout))
}

func (c *testCloud) setDown(v bool) { c.mu.Lock(); c.down = v; c.mu.Unlock() }

func (c *testCloud) serve(f func(w http.ResponseWriter, r *http.Request)) {
	c.mu.Lock()
	c.config = f
	c.mu.Unlock()
}

// serveDoc serves body signed now (honouring If-None-Match on version).
func (c *testCloud) serveDoc(body string) {
	var d struct{ Version fleetmsg.Version }
	json.Unmarshal([]byte(body), &d)
	c.serve(func(w http.ResponseWriter, r *http.Request) {
		if d.Version > 0 && r.Header.Get("If-None-Match") == fleetmsg.ETag(d.Version) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set(ledger.HeaderSignature, ledger.Sign(secret, time.Now(), []byte(body)))
		io.WriteString(w, body)
	})
}

func (c *testCloud) snapshots() []fleetmsg.Health {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]fleetmsg.Health(nil), c.health...)
}

// waitSnapshot waits for a snapshot satisfying ok.
func (c *testCloud) waitSnapshot(within time.Duration, ok func(fleetmsg.Health) bool) fleetmsg.Health {
	c.t.Helper()
	deadline := time.Now().Add(within)
	for {
		for _, h := range c.snapshots() {
			if ok(h) {
				return h
			}
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("no matching snapshot within %s; got %d", within, len(c.snapshots()))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// logRecorder keeps log records to count them.
type logRecorder struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.recs = append(l.recs, r.Clone())
	l.mu.Unlock()
	return nil
}
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecorder) WithGroup(string) slog.Handler      { return l }

// count returns how many records at level or above mention substr (in the
// message or an attribute).
func (l *logRecorder) count(level slog.Level, substr string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, r := range l.recs {
		if r.Level < level {
			continue
		}
		text := r.Message
		r.Attrs(func(a slog.Attr) bool { text += " " + a.String(); return true })
		if strings.Contains(text, substr) {
			n++
		}
	}
	return n
}
