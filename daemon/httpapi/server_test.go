package httpapi

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// The server's own routes sit behind its gate (package webauth tests the
// gate itself): with read_auth on, the page and its stream need a
// session, the probe, static files and sign-in stay open, and a wrong
// token is refused.
func TestServerRoutesAreBehindTheGate(t *testing.T) {
	const token = "0123456789abcdef0123456789abcdef"
	s := New(Config{Listen: "127.0.0.1:0", AdminToken: token, ReadAuth: true}, slog.New(slog.DiscardHandler))
	s.MountStatusPage(func() any { return map[string]string{"order": "SECRET-ORDER"} })
	s.HandleMetrics(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "storebox_up 1\n") }))
	srv := httptest.NewServer(s)
	defer srv.Close()
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, c := range []struct {
		path, auth, location string
		code                 int
	}{
		{"/", "", "/signin", http.StatusSeeOther},
		{"/api/v1/events", "", "", http.StatusUnauthorized},
		{"/api/v1/events", "Bearer wrong", "", http.StatusUnauthorized},
		{"/healthz", "", "", 200},
		{"/metrics", "", "", 200},
		{"/ui/style.css", "", "", 200},
		{"/signin", "", "", 200},
		{"/api/v1/session", "", "", 200},
		{"/", "Bearer " + token, "", 200},
	} {
		req, _ := http.NewRequest("GET", srv.URL+c.path, nil)
		if c.auth != "" {
			req.Header.Set("Authorization", c.auth)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.code || resp.Header.Get("Location") != c.location || (c.code != 200 && strings.Contains(string(b), "SECRET-ORDER")) {
			t.Errorf("GET %s (%q): %d %q %.80q", c.path, c.auth, resp.StatusCode, resp.Header.Get("Location"), b)
		}
	}
	// The sign-in form carries the page's security headers.
	resp, err := http.Get(srv.URL + "/signin")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("/signin CSP: %q", csp)
	}
}
