package webauth

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"image/png"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

const testToken = "0123456789abcdef0123456789abcdef"

// authServer is a gate in front of what the daemon serves: a status page,
// a static file, a read endpoint that carries order data, a live stream,
// an admin action and metrics.
func authServer(t *testing.T, cfg Config) (*Gate, *httptest.Server) {
	t.Helper()
	cfg.AdminToken = testToken
	cfg.Page = "GET /{$}"
	cfg.Log = slog.New(slog.DiscardHandler)
	cfg.JSON = func(w http.ResponseWriter, status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(v)
	}
	cfg.PageHeaders = func(h http.Header) { h.Set("X-Frame-Options", "DENY") }
	var base string
	cfg.LANBase = func() string { return base }
	mux := http.NewServeMux()
	g := New(cfg, mux)
	mux.HandleFunc(cfg.Page, func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, `<script src="/ui/app.js"></script> SECRET-ORDER`)
	})
	g.HandleOpen("GET /ui/", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "body {}") }))
	mux.HandleFunc("GET /api/v1/orders", func(w http.ResponseWriter, _ *http.Request) {
		cfg.JSON(w, 200, map[string]string{"order": "SECRET-ORDER"})
	})
	mux.HandleFunc("GET /api/v1/events", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	mux.HandleFunc("POST /api/v1/devices/{id}/approve", g.Admin(func(w http.ResponseWriter, r *http.Request) {
		cfg.JSON(w, 200, map[string]string{"approved": r.PathValue("id")})
	}))
	g.HandleMetrics("GET /metrics", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "storebox_up 1\n") }))
	srv := httptest.NewServer(g)
	base = srv.URL
	t.Cleanup(srv.Close)
	return g, srv
}

type reply struct {
	code   int
	body   string
	header http.Header
}

// call makes one request without following redirects.
func call(t *testing.T, method, u string, body io.Reader, hdr ...string) reply {
	t.Helper()
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, string(b), resp.Header}
}

func sessionCookie(t *testing.T, r reply) *http.Cookie {
	t.Helper()
	for _, line := range r.header.Values("Set-Cookie") {
		c, err := http.ParseSetCookie(line)
		if err == nil && c.Name == cookieName && c.Value != "" {
			return c
		}
	}
	t.Fatalf("no session cookie in %d reply: %v", r.code, r.header)
	return nil
}

func signIn(t *testing.T, srv *httptest.Server, token string) reply {
	t.Helper()
	return call(t, "POST", srv.URL+"/signin", strings.NewReader(url.Values{"token": {token}}.Encode()),
		"Content-Type", "application/x-www-form-urlencoded", "Origin", srv.URL)
}

func TestReadEndpointsNeedTheToken(t *testing.T) {
	_, srv := authServer(t, Config{ReadAuth: true})
	for _, p := range []string{"/", "/api/v1/orders", "/api/v1/events"} {
		r := call(t, "GET", srv.URL+p, nil)
		if (r.code != http.StatusUnauthorized && r.code != http.StatusSeeOther) || strings.Contains(r.body, "SECRET-ORDER") {
			t.Errorf("GET %s without a session: %d %.120q", p, r.code, r.body)
		}
	}
	if r := call(t, "GET", srv.URL+"/", nil); r.code != http.StatusSeeOther || r.header.Get("Location") != "/signin" {
		t.Errorf("GET / without a session does not go to the sign-in form: %d %q", r.code, r.header.Get("Location"))
	}
	if r := call(t, "GET", srv.URL+"/signin", nil); !strings.Contains(r.body, `id="signin-form"`) || strings.Contains(r.body, "app.js") {
		t.Errorf("GET /signin is not the sign-in form: %.300s", r.body)
	}
	for _, p := range []string{"/metrics", "/ui/style.css", "/signin", "/api/v1/session"} {
		if r := call(t, "GET", srv.URL+p, nil); r.code != 200 {
			t.Errorf("GET %s should stay open: %d %.120q", p, r.code, r.body)
		}
	}
	r := call(t, "GET", srv.URL+"/api/v1/orders", nil, "Authorization", "Bearer "+testToken)
	if r.code != 200 || !strings.Contains(r.body, "SECRET-ORDER") {
		t.Errorf("GET /api/v1/orders with the token: %d %q", r.code, r.body)
	}
	if r := call(t, "GET", srv.URL+"/api/v1/orders", nil, "Authorization", "Bearer wrong"); r.code != 401 {
		t.Errorf("a wrong token reads orders: %d", r.code)
	}
	// An unknown route is a 404 for everyone: it gives nothing away.
	if r := call(t, "GET", srv.URL+"/nope", nil); r.code != 404 {
		t.Errorf("GET /nope: %d", r.code)
	}
}

func TestSignInSetsASessionCookie(t *testing.T) {
	s, srv := authServer(t, Config{ReadAuth: true})
	if r := signIn(t, srv, "wrong"); r.code != 401 || !strings.Contains(r.body, "not accepted") || len(r.header.Values("Set-Cookie")) > 0 {
		t.Errorf("wrong token: %d %v %.200s", r.code, r.header.Values("Set-Cookie"), r.body)
	}
	r := call(t, "POST", srv.URL+"/signin", strings.NewReader("token="+testToken),
		"Content-Type", "application/x-www-form-urlencoded", "Origin", "http://evil.example")
	if r.code != 403 || len(r.header.Values("Set-Cookie")) > 0 {
		t.Errorf("sign-in posted from another site: %d", r.code)
	}
	r = signIn(t, srv, testToken)
	if r.code != http.StatusSeeOther || r.header.Get("Location") != "/" {
		t.Fatalf("sign-in: %d %q", r.code, r.header.Get("Location"))
	}
	c := sessionCookie(t, r)
	if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.MaxAge != 12*3600 || c.Path != "/" {
		t.Errorf("cookie attributes: %+v", c)
	}
	cookie := c.Name + "=" + c.Value
	if r := call(t, "GET", srv.URL+"/", nil, "Cookie", cookie); r.code != 200 || !strings.Contains(r.body, "/ui/app.js") {
		t.Errorf("GET / signed in: %d %.200s", r.code, r.body)
	}
	if r := call(t, "GET", srv.URL+"/api/v1/orders", nil, "Cookie", cookie); r.code != 200 {
		t.Errorf("orders signed in: %d", r.code)
	}
	var sess struct {
		SignedIn  bool       `json:"signed_in"`
		ExpiresAt *time.Time `json:"expires_at"`
	}
	json.Unmarshal([]byte(call(t, "GET", srv.URL+"/api/v1/session", nil, "Cookie", cookie).body), &sess)
	if !sess.SignedIn || sess.ExpiresAt == nil || time.Until(*sess.ExpiresAt) < 11*time.Hour {
		t.Errorf("session: %+v", sess)
	}
	// A session approves from the page (same origin), never from another site.
	if r := call(t, "POST", srv.URL+"/api/v1/devices/T-1/approve", nil, "Cookie", cookie, "Origin", srv.URL); r.code != 200 {
		t.Errorf("approve with a session: %d %s", r.code, r.body)
	}
	if r := call(t, "POST", srv.URL+"/api/v1/devices/T-1/approve", nil, "Cookie", cookie, "Origin", "http://evil.example"); r.code != 401 {
		t.Errorf("cross-site approve with a session: %d", r.code)
	}
	// A changed byte, and the session's end, both sign out.
	forged := cookie[:len(cookie)-2] + "AA"
	if r := call(t, "GET", srv.URL+"/api/v1/orders", nil, "Cookie", forged); r.code != 401 {
		t.Errorf("forged cookie: %d", r.code)
	}
	s.auth.now = func() time.Time { return time.Now().Add(SessionTTL + time.Second) }
	if r := call(t, "GET", srv.URL+"/api/v1/orders", nil, "Cookie", cookie); r.code != 401 {
		t.Errorf("cookie after 12 h: %d", r.code)
	}
	// A new admin token ends every session.
	other := New(Config{AdminToken: "another-token-another-token", ReadAuth: true}, http.NewServeMux())
	if _, ok := other.auth.verify(c.Value); ok {
		t.Error("a session outlived a change of admin token")
	}
}

func TestLoginLinkWorksOnce(t *testing.T) {
	s, srv := authServer(t, Config{ReadAuth: true})
	if r := call(t, "POST", srv.URL+"/api/v1/login-links", nil); r.code != 401 {
		t.Fatalf("a link without the token: %d", r.code)
	}
	r := call(t, "POST", srv.URL+"/api/v1/login-links", nil, "Authorization", "Bearer "+testToken)
	var link struct {
		URL, Path string
		ExpiresAt time.Time `json:"expires_at"`
		QRPNG     string    `json:"qr_png"`
	}
	if err := json.Unmarshal([]byte(r.body), &link); err != nil || !strings.HasPrefix(link.Path, "/signin/") || !strings.HasSuffix(link.URL, link.Path) {
		t.Fatalf("link: %d %s", r.code, r.body)
	}
	png64, ok := strings.CutPrefix(link.QRPNG, "data:image/png;base64,")
	raw, err := base64.StdEncoding.DecodeString(png64)
	if !ok || err != nil {
		t.Fatalf("qr_png: %.60q %v", link.QRPNG, err)
	}
	if img, err := png.Decode(bytes.NewReader(raw)); err != nil || img.Bounds().Dx() < 100 {
		t.Fatalf("qr_png is not a QR-sized PNG: %v", err)
	}
	if d := time.Until(link.ExpiresAt); d > LinkTTL || d < LinkTTL-time.Minute {
		t.Errorf("link expires in %s", d)
	}
	first := call(t, "GET", srv.URL+link.Path, nil)
	if first.code != http.StatusSeeOther {
		t.Fatalf("first use: %d %s", first.code, first.body)
	}
	c := sessionCookie(t, first)
	if r := call(t, "GET", srv.URL+"/api/v1/orders", nil, "Cookie", c.Name+"="+c.Value); r.code != 200 {
		t.Errorf("orders after the link: %d", r.code)
	}
	again := call(t, "GET", srv.URL+link.Path, nil)
	if again.code != 401 || len(again.header.Values("Set-Cookie")) > 0 || !strings.Contains(again.body, "already used") {
		t.Errorf("second use: %d %v", again.code, again.header.Values("Set-Cookie"))
	}
	// An unused link lapses after LinkTTL.
	r = call(t, "POST", srv.URL+"/api/v1/login-links", nil, "Authorization", "Bearer "+testToken)
	json.Unmarshal([]byte(r.body), &link)
	s.auth.now = func() time.Time { return time.Now().Add(LinkTTL) }
	if r := call(t, "GET", srv.URL+link.Path, nil); r.code != 401 {
		t.Errorf("expired link: %d", r.code)
	}
}

func TestReadAuthOffOpensReadsOnly(t *testing.T) {
	_, srv := authServer(t, Config{ReadAuth: false, MetricsAuth: true})
	if r := call(t, "GET", srv.URL+"/api/v1/orders", nil); r.code != 200 {
		t.Errorf("read_auth=false, orders: %d", r.code)
	}
	if r := call(t, "GET", srv.URL+"/", nil); r.code != 200 || !strings.Contains(r.body, "/ui/app.js") {
		t.Errorf("read_auth=false, page: %d", r.code)
	}
	if r := call(t, "POST", srv.URL+"/api/v1/devices/T-1/approve", nil); r.code != 401 {
		t.Errorf("read_auth=false opened an admin action: %d", r.code)
	}
	if r := call(t, "GET", srv.URL+"/metrics", nil); r.code != 401 {
		t.Errorf("metrics_auth=true, metrics open: %d", r.code)
	}
	if r := call(t, "GET", srv.URL+"/metrics", nil, "Authorization", "Bearer "+testToken); r.code != 200 {
		t.Errorf("metrics with the token: %d", r.code)
	}
}

// A live stream ends when the session that opened it does.
func TestStreamEndsWithItsSession(t *testing.T) {
	s, srv := authServer(t, Config{ReadAuth: true})
	s.auth.now = func() time.Time { return time.Now().Add(-SessionTTL + 1500*time.Millisecond) }
	c := sessionCookie(t, signIn(t, srv, testToken))
	s.auth.now = time.Now
	req, _ := http.NewRequest("GET", srv.URL+"/api/v1/events", nil)
	req.AddCookie(c)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("stream: %s", resp.Status)
	}
	done := make(chan struct{})
	go func() { io.Copy(io.Discard, resp.Body); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("stream outlived its session")
	}
}

// Ten wrong tokens from one address in a minute and it is refused for the
// rest of that minute, the right token included; the form counts too.
func TestWrongTokensAreLimited(t *testing.T) {
	s, srv := authServer(t, Config{ReadAuth: true})
	for i := 0; i < 5; i++ {
		if r := call(t, "GET", srv.URL+"/api/v1/orders", nil, "Authorization", "Bearer guess"); r.code != 401 {
			t.Fatalf("guess %d: %d", i, r.code)
		}
		if r := signIn(t, srv, "guess"); r.code != 401 {
			t.Fatalf("form guess %d: %d", i, r.code)
		}
	}
	if r := call(t, "GET", srv.URL+"/api/v1/orders", nil, "Authorization", "Bearer "+testToken); r.code != http.StatusTooManyRequests {
		t.Errorf("the right token after 10 wrong ones: %d, want 429", r.code)
	}
	if r := signIn(t, srv, testToken); r.code != http.StatusTooManyRequests || len(r.header.Values("Set-Cookie")) > 0 {
		t.Errorf("sign-in after 10 wrong tokens: %d", r.code)
	}
	s.guesses.now = func() time.Time { return time.Now().Add(time.Minute) }
	if r := call(t, "GET", srv.URL+"/api/v1/orders", nil, "Authorization", "Bearer "+testToken); r.code != 200 {
		t.Errorf("the right token a minute later: %d", r.code)
	}
}

// The sign-in form works on a store LAN without internet and without script.
func TestSignInPageIsSelfContained(t *testing.T) {
	for _, bad := range []string{"http://", "https://", "//cdn", "innerHTML", "<script"} {
		if strings.Contains(signInHTML, bad) {
			t.Errorf("signin.html contains %q", bad)
		}
	}
}
