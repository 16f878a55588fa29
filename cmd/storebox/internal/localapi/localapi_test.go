package localapi

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestDialAddr(t *testing.T) {
	for in, want := range map[string]string{
		":8080": "127.0.0.1:8080", "0.0.0.0:1": "127.0.0.1:1", "[::]:2": "127.0.0.1:2",
		"10.0.0.5:3": "10.0.0.5:3", "not-an-addr": "not-an-addr",
	} {
		if got := DialAddr(in); got != want {
			t.Errorf("DialAddr(%q) = %q, want %q", in, got, want)
		}
	}
}

// Do sends the token and turns the daemon's {"error": ...} into the error.
func TestDoErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		switch r.URL.Path {
		case "/ok":
			w.Write([]byte(`{"n":7}`))
		case "/named":
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"error":"no door \"x\""}`))
		default:
			w.WriteHeader(http.StatusInternalServerError)
			w.Write([]byte("boom\n"))
		}
	}))
	defer srv.Close()
	a := &Client{base: srv.URL, token: "tok", hc: srv.Client()}
	var out struct{ N int }
	if err := a.Do("GET", "/ok", nil, &out); err != nil || out.N != 7 {
		t.Fatalf("ok: %v %+v", err, out)
	}
	if err := a.Do("GET", "/named", nil, nil); err == nil || err.Error() != `no door "x"` {
		t.Fatalf("named error: %v", err)
	}
	if err := a.Do("POST", "/other", nil, nil); err == nil || !strings.Contains(err.Error(), "POST /other: 500 Internal Server Error: boom") {
		t.Fatalf("plain error: %v", err)
	}
	if (&Client{base: srv.URL, hc: srv.Client()}).Reachable() {
		t.Fatal("Reachable without /healthz answering 200")
	}
}
