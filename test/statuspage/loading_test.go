package statuspage

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/storebox/storebox/daemon/doors/doorsim"
	"github.com/storebox/storebox/test/harness"
)

// gatedProxy forwards to the daemon but holds the live stream until
// release is called: the page as a slow network shows it before its data.
func gatedProxy(t *testing.T, addr string) (proxyAddr string, release func()) {
	t.Helper()
	target, _ := url.Parse("http://" + addr)
	rp := httputil.NewSingleHostReverseProxy(target)
	gate := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/v1/events" {
			select {
			case <-gate:
			case <-r.Context().Done():
				return
			}
		}
		rp.ServeHTTP(w, r)
	}))
	var once bool
	t.Cleanup(func() {
		if !once {
			close(gate)
		}
		srv.CloseClientConnections()
		srv.Close()
	})
	return strings.TrimPrefix(srv.URL, "http://"), func() { once = true; close(gate) }
}

// Issue 16 items 8 and 9: before the live stream connects every section
// says it is loading — never "No door configured." or "No orders yet." —
// and the header shows no "v · up –"; once connected, a door online counts
// the same in the Devices card and the Doors section, orders have one
// needs-review count, and an approved device that went away is listed.
func TestStatusPageLoadingAndCounts(t *testing.T) {
	b := newBrowser(t, 60*time.Second)
	d := harness.New(t, "[[doors]]\nid = \"front\"\nsecret = \"door-secret\"\npolicy = \"entry\"\n")
	d.Start()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	door, err := doorsim.Start(ctx, doorsim.Config{Broker: d.MQTTAddr, StoreID: "test", DoorID: "front", Secret: "door-secret"})
	if err != nil {
		t.Fatal(err)
	}
	defer door.Close()
	// A terminal that logged in once (admitted: admission is open) and left.
	dev, err := d.Dial("T-GONE")
	if err != nil {
		t.Fatal(err)
	}
	dev.Login(t, map[string]any{"kind": "terminal", "name": "till 2"})
	dev.Close()

	addr, release := gatedProxy(t, d.HTTPAddr)
	b.Do(t, "open the page", chromedp.Navigate("http://"+addr+"/"))
	b.waitJS(t, "the sign-in form", `!!document.getElementById("signin-form")`)
	b.Do(t, "type the token", chromedp.SendKeys(chromedp.CSS("#token"), d.AdminToken()))
	if _, err := chromedp.RunResponse(b.Ctx, chromedp.Click(chromedp.CSS("#signin-submit"))); err != nil {
		t.Fatalf("sign in: %v", err)
	}
	b.waitJS(t, "the page without its data", `document.readyState === "complete" && !!document.getElementById("live")`)
	time.Sleep(300 * time.Millisecond) // what a slow stream leaves on screen
	b.screenshot(t, "storebox-statuspage-loading.png")
	text := eval[string](t, b, `document.body.innerText`)
	for _, lie := range []string{"No door configured", "No orders yet", "No device is waiting", "No device is connected", "No scale configured", "up –", "v ·", "not configured"} {
		if strings.Contains(text, lie) {
			t.Errorf("before any data the page says %q:\n%s", lie, text)
		}
	}
	if !strings.Contains(text, "Loading…") || eval[string](t, b, `document.getElementById("live").textContent`) == "live" {
		t.Errorf("no loading state before the stream connects:\n%s", text)
	}

	release()
	b.waitJS(t, "the live feed", `document.getElementById("live").textContent === "live"`)
	b.waitJS(t, "the door online", `Array.from(document.querySelectorAll("#doors td")).some(td => td.textContent === "front")`+
		` && document.getElementById("doors-count").textContent === "1/1 online"`)
	if n := eval[string](t, b, `document.querySelector('#kinds .card[data-kind="door"] .num').textContent`); n != "1" {
		t.Errorf("Devices card doors = %q while the Doors section shows front online", n)
	}
	if eval[bool](t, b, `document.body.innerText.includes("Loading…")`) {
		t.Errorf("still loading after the first snapshot")
	}
	labels := eval[string](t, b, `Array.from(document.querySelectorAll("#order-counts .lbl")).map(e => e.textContent).join(",")`)
	if strings.Contains(labels, ",review") || strings.HasPrefix(labels, "review") || strings.Count(labels, "review") != 1 {
		t.Errorf("order counts: %s (one needs-review count expected)", labels)
	}
	b.waitJS(t, "the known device", `!!document.querySelector('#known-table tr[data-equip-id="T-GONE"]')`)
	row := eval[string](t, b, `Array.from(document.querySelectorAll('#known-table tr[data-equip-id="T-GONE"] td')).map(e => e.textContent).join("|")`)
	if !strings.Contains(row, "T-GONE|terminal|till 2|approved|offline|") {
		t.Errorf("known device row: %q", row)
	}
	b.screenshot(t, "storebox-statuspage-loaded.png")
	if errs := b.Errors(); len(errs) > 0 {
		t.Errorf("page errors:\n%s", strings.Join(errs, "\n"))
	}
}
