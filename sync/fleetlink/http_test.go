package fleetlink_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/storebox/storebox/protocol/ledger"
	"github.com/storebox/storebox/sync/fleetlink"
	"github.com/storebox/storebox/sync/upstream"
)

const secret = "fleet-secret"

const doc = `{"version":3,"config":{"devices":{"admission":"open"}}}`

// cloud is a real HTTP server playing the fleet side of the cloud; reply
// decides what GET /config answers.
func cloud(t *testing.T, reply func(w http.ResponseWriter, r *http.Request)) (*httptest.Server, *atomic.Value) {
	t.Helper()
	var lastHealth atomic.Value
	mux := http.NewServeMux()
	mux.HandleFunc("PUT /v1/stores/s1/health", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if err := ledger.Verify(secret, r.Header.Get(ledger.HeaderSignature), b, time.Now()); err != nil || r.Header.Get(ledger.HeaderStore) != "s1" {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		lastHealth.Store(string(b))
		w.WriteHeader(204)
	})
	if reply != nil {
		mux.HandleFunc("GET /v1/stores/s1/config", reply)
	}
	hs := httptest.NewServer(mux)
	t.Cleanup(hs.Close)
	return hs, &lastHealth
}

func signed(at time.Time, key, body string) func(w http.ResponseWriter, r *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(ledger.HeaderSignature, ledger.Sign(key, at, []byte(body)))
		w.Write([]byte(body))
	}
}

func link(url string, timeout time.Duration) *fleetlink.HTTP {
	return fleetlink.NewHTTP(upstream.New(url, "s1", secret, timeout))
}

func TestHTTPPutHealthIsSigned(t *testing.T) {
	hs, last := cloud(t, nil)
	if err := link(hs.URL, 2*time.Second).PutHealth(context.Background(), []byte(`{"store":"s1"}`)); err != nil {
		t.Fatal(err)
	}
	if last.Load() != `{"store":"s1"}` {
		t.Fatalf("cloud got %v", last.Load())
	}
	// The wrong secret is refused by the cloud: a retryable error, not a panic or a silent success.
	bad := fleetlink.NewHTTP(upstream.New(hs.URL, "s1", "other", time.Second))
	if err := bad.PutHealth(context.Background(), []byte(`{}`)); !upstream.IsRetryable(err) {
		t.Fatalf("err = %v", err)
	}
}

func TestHTTPFetchVerifiesTheSignature(t *testing.T) {
	var inm atomic.Value
	hs, _ := cloud(t, func(w http.ResponseWriter, r *http.Request) {
		inm.Store(r.Header.Get("If-None-Match"))
		if r.Header.Get("If-None-Match") == `"3"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		signed(time.Now(), secret, doc)(w, r)
	})
	l := link(hs.URL, 2*time.Second)
	r, err := l.FetchConfig(context.Background(), 0)
	if err != nil || string(r.Body) != doc || r.NotModified {
		t.Fatalf("reply %+v err %v", r, err)
	}
	if inm.Load() != "" {
		t.Fatalf("If-None-Match %q with nothing applied", inm.Load())
	}
	r, err = l.FetchConfig(context.Background(), 3)
	if err != nil || !r.NotModified || inm.Load() != `"3"` {
		t.Fatalf("reply %+v err %v If-None-Match %v", r, err, inm.Load())
	}
}

func TestHTTPFetchRefusesUntrustedReplies(t *testing.T) {
	cases := []struct {
		name  string
		reply func(w http.ResponseWriter, r *http.Request)
		want  string
	}{
		{"unsigned", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(doc)) }, "unsigned reply"},
		{"forged", signed(time.Now(), "not-the-secret", doc), "forged signature"},
		{"stale", signed(time.Now().Add(-6*time.Minute), secret, doc), "stale signature"},
		{"body changed after signing", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set(ledger.HeaderSignature, ledger.Sign(secret, time.Now(), []byte(doc)))
			w.Write([]byte(strings.Replace(doc, "open", "pairing", 1)))
		}, "forged signature"},
		{"10 MB with length", func(w http.ResponseWriter, r *http.Request) {
			big := bytes.Repeat([]byte(" "), 10<<20)
			w.Header().Set(ledger.HeaderSignature, ledger.Sign(secret, time.Now(), big))
			w.Write(big)
		}, "over the 1048576-byte limit"},
		{"10 MB chunked", func(w http.ResponseWriter, r *http.Request) {
			chunk := bytes.Repeat([]byte(" "), 64<<10)
			for range 160 {
				if _, err := w.Write(chunk); err != nil {
					return
				}
				w.(http.Flusher).Flush()
			}
		}, "over the 1048576-byte limit"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			hs, _ := cloud(t, tc.reply)
			_, err := link(hs.URL, 5*time.Second).FetchConfig(context.Background(), 0)
			var ref *fleetlink.RefusedError
			if !errors.As(err, &ref) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want a refusal saying %q", err, tc.want)
			}
		})
	}
}

func TestHTTPFetchHangingReplyIsBoundedByTheTimeout(t *testing.T) {
	release := make(chan struct{})
	hs, _ := cloud(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000")
		w.Write([]byte(`{"version":`))
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	start := time.Now()
	_, err := link(hs.URL, 300*time.Millisecond).FetchConfig(context.Background(), 0)
	if !upstream.IsRetryable(err) {
		t.Fatalf("err = %v, want retryable (cloud unreachable)", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatalf("hung for %s", time.Since(start))
	}
}

func TestHTTPFetchNoDocumentIsNothingNew(t *testing.T) {
	hs, _ := cloud(t, func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no desired configuration", 404) })
	r, err := link(hs.URL, time.Second).FetchConfig(context.Background(), 0)
	if err != nil || !r.NotModified {
		t.Fatalf("reply %+v err %v", r, err)
	}
}
