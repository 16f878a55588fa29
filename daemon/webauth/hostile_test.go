package webauth

import (
	"bufio"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// serveFrom runs one request through the gate as if it came from addr.
func serveFrom(g *Gate, addr, method, path string, hdr ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, nil)
	r.RemoteAddr = addr
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	g.ServeHTTP(w, r)
	return w
}

// One host owns its /64: wrong tokens from ten of its addresses use up
// the /64's guesses, so an eleventh address is refused, the right token
// included; another /64 and an IPv4 client are not.
func TestWrongTokensAreLimitedPerIPv6Slash64(t *testing.T) {
	g, _ := authServer(t, Config{ReadAuth: true})
	for i := 1; i <= 10; i++ {
		if w := serveFrom(g, fmt.Sprintf("[2001:db8:99::%x]:4000", i), "GET", "/api/v1/orders", "Authorization", "Bearer guess"); w.Code != 401 {
			t.Fatalf("guess %d: %d", i, w.Code)
		}
	}
	if w := serveFrom(g, "[2001:db8:99::ffff:1]:4000", "GET", "/api/v1/orders", "Authorization", "Bearer "+testToken); w.Code != http.StatusTooManyRequests {
		t.Errorf("another address of the same /64 after 10 wrong tokens: %d, want 429", w.Code)
	}
	if w := serveFrom(g, "[2001:db8:98::1]:4000", "GET", "/api/v1/orders", "Authorization", "Bearer "+testToken); w.Code != 200 {
		t.Errorf("another /64: %d, want 200", w.Code)
	}
	if w := serveFrom(g, "192.0.2.7:4000", "GET", "/api/v1/orders", "Authorization", "Bearer "+testToken); w.Code != 200 {
		t.Errorf("an IPv4 client: %d, want 200", w.Code)
	}
}

// The limiter remembers a bounded number of clients: a spray from 6,000
// /64s leaves at most maxClients entries, and the most recent sprayer is
// still limited.
func TestGuessLimiterIsBounded(t *testing.T) {
	g, _ := authServer(t, Config{ReadAuth: true})
	for i := 0; i < 6000; i++ {
		serveFrom(g, fmt.Sprintf("[2001:db8:%x:%x::1]:4000", i>>16, i&0xffff), "GET", "/api/v1/orders", "Authorization", "Bearer guess")
	}
	if n := g.guesses.clients(); n > g.guesses.maxClients {
		t.Fatalf("limiter holds %d clients, bound %d", n, g.guesses.maxClients)
	}
	for i := 0; i < 10; i++ {
		serveFrom(g, "[2001:db8:ff::1]:4000", "GET", "/api/v1/orders", "Authorization", "Bearer guess")
	}
	if w := serveFrom(g, "[2001:db8:ff::2]:4000", "GET", "/api/v1/orders", "Authorization", "Bearer "+testToken); w.Code != http.StatusTooManyRequests {
		t.Errorf("a full limiter no longer limits: %d", w.Code)
	}
}

// Signing out ends the session on the server: the old cookie no longer
// reads the API, and a stream it opened ends.
func TestSignOutEndsTheSessionServerSide(t *testing.T) {
	_, srv := authServer(t, Config{ReadAuth: true})
	cookie := sessionCookie(t, signIn(t, srv, testToken))
	hdr := cookie.Name + "=" + cookie.Value
	if r := call(t, "GET", srv.URL+"/api/v1/orders", nil, "Cookie", hdr); r.code != 200 {
		t.Fatalf("signed in: %d", r.code)
	}
	req, _ := http.NewRequest("GET", srv.URL+"/api/v1/events", nil)
	req.Header.Set("Cookie", hdr)
	stream, err := http.DefaultClient.Do(req)
	if err != nil || stream.StatusCode != 200 {
		t.Fatalf("stream: %v %v", err, stream)
	}
	defer stream.Body.Close()
	streamEnded := make(chan struct{})
	go func() { bufio.NewReader(stream.Body).ReadString('\n'); close(streamEnded) }()

	if r := call(t, "POST", srv.URL+"/signout", nil, "Cookie", hdr, "Origin", srv.URL); r.code != http.StatusSeeOther {
		t.Fatalf("sign-out: %d", r.code)
	}
	if r := call(t, "GET", srv.URL+"/api/v1/orders", nil, "Cookie", hdr); r.code != 401 || strings.Contains(r.body, "SECRET-ORDER") {
		t.Errorf("the signed-out cookie still reads: %d %.100s", r.code, r.body)
	}
	if r := call(t, "POST", srv.URL+"/api/v1/devices/T-1/approve", nil, "Cookie", hdr, "Origin", srv.URL); r.code != 401 {
		t.Errorf("the signed-out cookie still acts: %d", r.code)
	}
	select {
	case <-streamEnded:
	case <-time.After(5 * time.Second):
		t.Error("the stream opened by the session outlived its sign-out")
	}
	// Another session is untouched.
	other := sessionCookie(t, signIn(t, srv, testToken))
	if r := call(t, "GET", srv.URL+"/api/v1/orders", nil, "Cookie", other.Name+"="+other.Value); r.code != 200 {
		t.Errorf("a new session after a sign-out: %d", r.code)
	}
}

// The sign-out list is bounded: past maxRevoked sign-outs it folds the
// oldest into a cutoff, and every signed-out cookie stays dead.
func TestSignOutListIsBounded(t *testing.T) {
	a := newAuth(testToken, true, false)
	start := time.Now()
	var cookies []string
	for i := 0; i < 3*maxRevoked; i++ {
		now := start.Add(time.Duration(i) * time.Second)
		a.now = func() time.Time { return now }
		v := a.mint(now.Add(SessionTTL))
		cookies = append(cookies, v)
		r := httptest.NewRequest("POST", "/signout", nil)
		r.AddCookie(&http.Cookie{Name: cookieName, Value: v})
		a.endSessionOf(r)
		if n := len(a.ended.nonces); n > maxRevoked {
			t.Fatalf("sign-out list holds %d, bound %d", n, maxRevoked)
		}
	}
	for i, v := range cookies {
		if _, ok := a.verify(v); ok {
			t.Fatalf("signed-out cookie %d reads again", i)
		}
	}
	fresh := a.mint(a.now().Add(SessionTTL))
	if _, ok := a.verify(fresh); !ok {
		t.Error("a session started after the cutoff is refused")
	}
}

// The sign-out list is kept in the data directory: after a restart (a new
// gate over the same directory) a signed-out cookie still does not read,
// while a session that did not sign out does.
func TestSignOutSurvivesARestart(t *testing.T) {
	dir := t.TempDir()
	g, srv := authServer(t, Config{ReadAuth: true, DataDir: dir})
	out := sessionCookie(t, signIn(t, srv, testToken))
	kept := sessionCookie(t, signIn(t, srv, testToken))
	if r := call(t, "POST", srv.URL+"/signout", nil, "Cookie", out.Name+"="+out.Value, "Origin", srv.URL); r.code != http.StatusSeeOther {
		t.Fatalf("sign-out: %d", r.code)
	}
	after := New(Config{AdminToken: testToken, ReadAuth: true, DataDir: dir, Log: g.cfg.Log}, http.NewServeMux())
	if _, ok := after.auth.verify(out.Value); ok {
		t.Error("a signed-out cookie reads again after a restart")
	}
	if _, ok := after.auth.verify(kept.Value); !ok {
		t.Error("a session that did not sign out was ended by the restart")
	}
}
