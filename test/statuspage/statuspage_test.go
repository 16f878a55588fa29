// Package statuspage tests the technician's status page in a real headless
// Chromium against the real storebox binary, and the /metrics endpoint.
package statuspage

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/storebox/storebox/drivers/scale/scalesim"
	"github.com/storebox/storebox/protocol/scaleproto"
	"github.com/storebox/storebox/test/browsertest"
	"github.com/storebox/storebox/test/harness"
)

// startPairing starts the real daemon with devices.admission = "pairing".
func startPairing(t *testing.T) *harness.Daemon {
	t.Helper()
	d := harness.New(t, "")
	b, err := os.ReadFile(d.Config)
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(string(b), `admission = "open"`, `admission = "pairing"`, 1)
	if cfg == string(b) {
		t.Fatal("harness config has no admission line to change")
	}
	if err := os.WriteFile(d.Config, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	d.Start()
	return d
}

// browser is a headless Chromium tab (test/browsertest).
type browser struct{ *browsertest.Browser }

func newBrowser(t testing.TB, timeout time.Duration) *browser {
	return &browser{browsertest.New(t, timeout)}
}

// eval evaluates a JS expression.
func eval[T any](t testing.TB, b *browser, expr string) T {
	t.Helper()
	return browsertest.Eval[T](t, b.Browser, expr)
}

// status fetches path from the page and returns the HTTP status.
func (b *browser) status(t testing.TB, path string) int {
	t.Helper()
	v, err := chromedp.Run(b.Ctx, chromedp.Evaluate[int](`fetch("`+path+`").then(r => r.status)`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("fetch %s: %v", path, err)
	}
	return v
}

// waitJS polls a JS expression until it is true, for up to 20 s.
func (b *browser) waitJS(t testing.TB, what, expr string) {
	t.Helper()
	b.WaitJS(t, what, expr, 20*time.Second)
}

func (b *browser) screenshot(t testing.TB, name string) {
	t.Helper()
	path, err := b.Screenshot(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

// signIn opens the page, which shows the sign-in form, and signs in with
// the admin token.
func (b *browser) signIn(t testing.TB, addr, token string) {
	t.Helper()
	b.Do(t, "open the page", chromedp.Navigate("http://"+addr+"/"))
	b.waitJS(t, "the sign-in form", `!!document.getElementById("signin-form")`)
	b.Do(t, "type the token", chromedp.SendKeys(chromedp.CSS("#token"), token))
	if _, err := chromedp.RunResponse(b.Ctx, chromedp.Click(chromedp.CSS("#signin-submit"))); err != nil {
		t.Fatalf("sign in: %v", err)
	}
	b.waitJS(t, "the live feed", `!!document.getElementById("live") && document.getElementById("live").textContent === "live"`)
}

func TestStatusPageApprovesDevice(t *testing.T) {
	b := newBrowser(t, 50*time.Second)
	d := startPairing(t)
	token := d.AdminToken()
	if token == "" {
		t.Fatal("no admin token")
	}
	b.signIn(t, d.HTTPAddr, token)
	if name := eval[string](t, b, `document.getElementById("store-name").textContent`); name != "test store" {
		t.Errorf("store name on the page: %q", name)
	}
	if !eval[bool](t, b, `document.getElementById("testmode").hidden`) {
		t.Errorf("TEST MODE banner shown for a store not in test mode")
	}

	// A device logs in: it is pending and appears without a reload.
	dev, err := d.Dial("T-PAGE")
	if err != nil {
		t.Fatal(err)
	}
	r, err := dev.Call("login", map[string]any{"kind": "terminal", "name": "till <b>1</b>"})
	dev.Close()
	if err != nil || r.Code() != "pending_approval" {
		t.Fatalf("first login: %v %s", err, r.Raw)
	}
	row := `#pending-table tr[data-equip-id="T-PAGE"]`
	b.waitJS(t, "the pending device", `!!document.querySelector('`+row+`') && !document.getElementById("pending-table").hidden`)
	if name := eval[string](t, b, `document.querySelector('`+row+` td:nth-child(3)').textContent`); name != "till <b>1</b>" {
		t.Errorf("device name rendered as %q (must be text, not markup)", name)
	}
	b.screenshot(t, "storebox-statuspage-pending.png")

	// Approve: the session signed in above is enough; the page never holds the token.
	b.Do(t, "press Approve", chromedp.Click(chromedp.CSS(row+` button.approve`)))
	b.waitJS(t, "the approval", `document.getElementById("action-msg").textContent.startsWith("Approved T-PAGE")`)
	if kept := eval[string](t, b, `JSON.stringify(Object.entries(localStorage)) + document.cookie`); strings.Contains(kept, token) || strings.Contains(kept, "storebox_session") {
		t.Errorf("the page can read the token or the session cookie: %s", kept)
	}
	b.waitJS(t, "the pending list to empty", `!document.querySelector('`+row+`') && !document.getElementById("pending-empty").hidden`)

	// Its next login succeeds, and it shows as online.
	dev, err = d.Dial("T-PAGE")
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	r, err = dev.Call("login", map[string]any{"kind": "terminal"})
	if err != nil || r.Exception() != "" {
		t.Fatalf("login after approval: %v %s", err, r.Raw)
	}
	b.waitJS(t, "the online session", `Array.from(document.querySelectorAll("#online-table td")).some(td => td.textContent === "T-PAGE")`)
	if n := eval[string](t, b, `document.querySelector("#kinds .card .num").textContent`); n != "1" {
		t.Errorf("terminals card shows %q, want 1", n)
	}
	b.screenshot(t, "storebox-statuspage.png")

	// Readable on a phone: the page itself does not scroll sideways.
	b.Do(t, "phone viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(3), chromedp.EmulateMobile))
	b.waitJS(t, "the phone layout", `window.innerWidth <= 400`)
	if eval[bool](t, b, `document.documentElement.scrollWidth > window.innerWidth + 1`) {
		t.Errorf("page scrolls sideways at 390 px wide (scrollWidth %v)", eval[float64](t, b, `document.documentElement.scrollWidth`))
	}
	b.screenshot(t, "storebox-statuspage-phone.png")

	if errs := b.Errors(); len(errs) > 0 {
		t.Errorf("page errors:\n%s", strings.Join(errs, "\n"))
	}
}

// The feed is plain SSE: an event at once, then only on change.
func TestEventsFeed(t *testing.T) {
	d := harness.New(t, "")
	d.Start()
	resp, err := d.Get("/api/v1/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	events := make(chan string, 16)
	go func() {
		buf := make([]byte, 64<<10)
		var acc string
		for {
			n, err := resp.Body.Read(buf)
			acc += string(buf[:n])
			for {
				i := strings.Index(acc, "\n\n")
				if i < 0 {
					break
				}
				events <- acc[:i]
				acc = acc[i+2:]
			}
			if err != nil {
				close(events)
				return
			}
		}
	}()
	next := func(what string) string {
		t.Helper()
		for {
			select {
			case ev, ok := <-events:
				if !ok {
					t.Fatalf("stream closed waiting for %s", what)
				}
				if strings.HasPrefix(ev, "event: status\n") {
					return ev
				}
			case <-time.After(15 * time.Second):
				t.Fatalf("no event: %s", what)
			}
		}
	}
	first := next("the first snapshot")
	if !strings.Contains(first, `"store_id":"test"`) {
		t.Fatalf("first event: %s", first)
	}
	// Nothing changes but the clock: no event for a few seconds.
	select {
	case ev := <-events:
		if strings.HasPrefix(ev, "event: status") {
			t.Fatalf("event without a change: %.200s", ev)
		}
	case <-time.After(2500 * time.Millisecond):
	}
	dev, err := d.Dial("T-FEED")
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	dev.Login(t, map[string]any{"kind": "scale"})
	ev := next("the login")
	if !strings.Contains(ev, `"T-FEED"`) || !strings.Contains(ev, `"scale":1`) {
		t.Fatalf("event after login lacks the session: %.400s", ev)
	}
}

// The other sections render what the components report: TEST MODE, a
// serial scale's weight, a door, and an order's amount as money.
func TestStatusPageSections(t *testing.T) {
	b := newBrowser(t, 50*time.Second)
	sim, err := scalesim.New(scaleproto.Toledo8217, scalesim.Options{Interval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	simDone := make(chan struct{})
	go func() { sim.Serve(ctx); close(simDone) }()
	t.Cleanup(func() { cancel(); <-simDone; sim.Close() })
	sim.SetWeight(1250)

	d := harness.New(t, fmt.Sprintf(`[payments]
provider = "test"
[[doors]]
id = "D-IN"
secret = "door-secret"
policy = "entry"
[[scales]]
id = "S-1"
port = %q
protocol = "toledo8217"
`, sim.Path()))
	d.Start()
	req, _ := http.NewRequest("POST", "http://"+d.HTTPAddr+"/api/v1/catalog?format=csv", strings.NewReader("gid,barcode,gname,price,unit,stock\nG1,6900000000001,Apple,1234,pcs,10\n"))
	req.Header.Set("Authorization", "Bearer "+d.AdminToken())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("catalog import: %s", resp.Status)
	}
	dev, err := d.Dial("T-ORD")
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	dev.Login(t, map[string]any{"kind": "terminal"})
	r, err := dev.Call("getPayInfo", map[string]any{"order_id": "A-1", "pay_method": "cash", "lines": []map[string]any{{"gid": "G1", "qty": 2}}})
	if err != nil || r.Exception() != "" {
		t.Fatalf("getPayInfo: %v %s", err, r.Raw)
	}

	b.signIn(t, d.HTTPAddr, d.AdminToken())
	b.waitJS(t, "the TEST MODE banner", `!document.getElementById("testmode").hidden && document.getElementById("testmode").offsetHeight > 0`)
	b.waitJS(t, "the scale's weight", `Array.from(document.querySelectorAll("#scales td")).some(td => td.textContent === "1250 g")`)
	b.waitJS(t, "the scale's state", `Array.from(document.querySelectorAll("#scales td.st.good")).some(td => td.textContent === "connected")`)
	b.waitJS(t, "the door", `Array.from(document.querySelectorAll("#doors td")).some(td => td.textContent === "D-IN") && Array.from(document.querySelectorAll("#doors td")).some(td => td.textContent === "entry")`)
	b.waitJS(t, "the order amount", `Array.from(document.querySelectorAll("#recent-table td")).some(td => td.textContent === "24.68")`)
	// A new weight shows without a reload.
	sim.SetWeight(2500)
	b.waitJS(t, "the new weight", `Array.from(document.querySelectorAll("#scales td")).some(td => td.textContent === "2500 g")`)
	b.screenshot(t, "storebox-statuspage-sections.png")
	if errs := b.Errors(); len(errs) > 0 {
		t.Errorf("page errors:\n%s", strings.Join(errs, "\n"))
	}
}

// Without a session the page is a sign-in form and the API says 401;
// a wrong token is refused; the right one shows the store; sign-out
// ends it.
func TestStatusPageNeedsSignIn(t *testing.T) {
	b := newBrowser(t, 50*time.Second)
	d := harness.New(t, "")
	d.Start()
	b.Do(t, "open the page", chromedp.Navigate("http://"+d.HTTPAddr+"/"))
	b.waitJS(t, "the sign-in form", `!!document.getElementById("signin-form")`)
	if text := eval[string](t, b, `document.body.innerText`); strings.Contains(text, "test store") || strings.Contains(text, "Pending approvals") {
		t.Errorf("the page shows data before sign-in:\n%s", text)
	}
	b.screenshot(t, "storebox-statuspage-signin.png")
	for _, p := range []string{"/api/v1/status", "/api/v1/devices", "/api/v1/orders", "/api/v1/sync", "/api/v1/events"} {
		if code := b.status(t, p); code != 401 {
			t.Errorf("GET %s from the page without a session: %v", p, code)
		}
	}
	b.Do(t, "type a wrong token", chromedp.SendKeys(chromedp.CSS("#token"), "not-the-token"))
	if _, err := chromedp.RunResponse(b.Ctx, chromedp.Click(chromedp.CSS("#signin-submit"))); err != nil {
		t.Fatalf("submit: %v", err)
	}
	b.waitJS(t, "the refusal", `(document.getElementById("signin-error") || {}).textContent.includes("not accepted")`)

	b.signIn(t, d.HTTPAddr, d.AdminToken())
	b.waitJS(t, "the store name", `document.getElementById("store-name").textContent === "test store"`)
	if code := b.status(t, "/api/v1/orders"); code != 200 {
		t.Errorf("GET /api/v1/orders signed in: %v", code)
	}
	if _, err := chromedp.RunResponse(b.Ctx, chromedp.Click(chromedp.CSS("#signout button"))); err != nil {
		t.Fatalf("sign out: %v", err)
	}
	b.waitJS(t, "the sign-in form again", `!!document.getElementById("signin-form")`)
	if code := b.status(t, "/api/v1/status"); code != 401 {
		t.Errorf("GET /api/v1/status after sign-out: %v", code)
	}
	// The refusals above were asked for (the sign-in form runs no script);
	// anything else is a page error.
	var errs []string
	for _, e := range b.Errors() {
		if !strings.Contains(e, "status of 401") {
			errs = append(errs, e)
		}
	}
	if len(errs) > 0 {
		t.Errorf("page errors:\n%s", strings.Join(errs, "\n"))
	}
}

// `storebox login-link` prints a link and a QR code; the link signs a
// phone in once: a second browser that opens it gets the sign-in form.
func TestStatusPageLoginLink(t *testing.T) {
	b := newBrowser(t, 50*time.Second)
	d := harness.New(t, "")
	d.Start()
	out, err := d.Run("login-link")
	if err != nil {
		t.Fatalf("login-link: %v\n%s", err, out)
	}
	link := regexp.MustCompile(`http://\S+/signin/\S+`).FindString(out)
	if link == "" || !strings.Contains(out, "█") {
		t.Fatalf("login-link printed no link or QR code:\n%s", out)
	}
	phone, closePhone := chromedp.NewContext(b.Ctx, chromedp.WithNewBrowserContext())
	defer closePhone()
	pb := &browser{&browsertest.Browser{Ctx: phone}}
	pb.Do(t, "phone viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(3), chromedp.EmulateMobile))
	pb.Do(t, "open the link", chromedp.Navigate(link))
	pb.waitJS(t, "the live page", `!!document.getElementById("live") && document.getElementById("live").textContent === "live" && document.getElementById("store-name").textContent === "test store"`)
	pb.screenshot(t, "storebox-statuspage-login-link.png")

	other, closeOther := chromedp.NewContext(b.Ctx, chromedp.WithNewBrowserContext())
	defer closeOther()
	ob := &browser{&browsertest.Browser{Ctx: other}}
	ob.Do(t, "open the link again", chromedp.Navigate(link))
	ob.waitJS(t, "the refusal", `!!document.getElementById("signin-form") && document.getElementById("signin-error").textContent.includes("already used")`)
	if code := ob.status(t, "/api/v1/status"); code != 401 {
		t.Errorf("the second opener reads the status: %v", code)
	}
}

// http.read_auth = false opens the read endpoints and keeps actions
// behind the token; http.metrics_auth = true closes /metrics.
func TestReadAuthConfig(t *testing.T) {
	get := func(d *harness.Daemon, method, path string) int {
		req, _ := http.NewRequest(method, "http://"+d.HTTPAddr+path, nil)
		hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	closed := harness.New(t, "")
	closed.Start()
	for path, want := range map[string]int{"/api/v1/status": 401, "/api/v1/devices": 401, "/api/v1/orders": 401, "/api/v1/sync": 401, "/": http.StatusSeeOther, "/healthz": 200, "/readyz": 200, "/metrics": 200} {
		if got := get(closed, "GET", path); got != want {
			t.Errorf("default config: GET %s = %d, want %d", path, got, want)
		}
	}
	open := harness.New(t, "")
	b, _ := os.ReadFile(open.Config)
	os.WriteFile(open.Config, []byte(strings.Replace(string(b), "[http]\n", "[http]\nread_auth = false\nmetrics_auth = true\n", 1)), 0o644)
	open.Start()
	for _, c := range []struct {
		method, path string
		want         int
	}{
		{"GET", "/api/v1/status", 200}, {"GET", "/api/v1/orders", 200}, {"GET", "/", 200},
		{"POST", "/api/v1/devices/T-1/approve", 401}, {"GET", "/api/v1/catalog", 401}, {"GET", "/metrics", 401}, {"GET", "/healthz", 200},
	} {
		if got := get(open, c.method, c.path); got != c.want {
			t.Errorf("read_auth=false metrics_auth=true: %s %s = %d, want %d", c.method, c.path, got, c.want)
		}
	}
}

// A signed-in page shows a QR code of a one-time link; a phone (another
// browser) that opens the link is signed in.
func TestStatusPageSignsInAPhone(t *testing.T) {
	b := newBrowser(t, 50*time.Second)
	d := harness.New(t, "")
	d.Start()
	b.signIn(t, d.HTTPAddr, d.AdminToken())
	b.waitJS(t, "the phone button", `!document.getElementById("phone-link").hidden`)
	b.Do(t, "press Sign in a phone", chromedp.Click(chromedp.CSS("#phone-link")))
	b.waitJS(t, "the QR code", `!document.getElementById("phone-qr").hidden && document.getElementById("phone-qr-img").complete && document.getElementById("phone-qr-img").naturalWidth > 0`)
	link := eval[string](t, b, `document.getElementById("phone-qr-url").textContent`)
	if !strings.Contains(link, "/signin/") {
		t.Fatalf("link under the QR code: %q", link)
	}
	b.screenshot(t, "storebox-statuspage-phone-qr.png")
	phone, closePhone := chromedp.NewContext(b.Ctx, chromedp.WithNewBrowserContext())
	defer closePhone()
	pb := &browser{&browsertest.Browser{Ctx: phone}}
	pb.Do(t, "open the link", chromedp.Navigate(link))
	pb.waitJS(t, "the live page on the phone", `!!document.getElementById("live") && document.getElementById("live").textContent === "live"`)
	if errs := b.Errors(); len(errs) > 0 {
		t.Errorf("page errors:\n%s", strings.Join(errs, "\n"))
	}
}
