package statuspage

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/storebox/storebox/daemon/doors/doorsim"
	"github.com/storebox/storebox/test/harness"
)

// layoutProblems lists, in the page as it is laid out now, every box that
// scrolls sideways (the page, a section, a table's scroll box), every table
// cell that ends outside its section, every grid row of sections that
// leaves a quarter of the width empty, and every header control whose label
// breaks over more than one line. "" when there is none.
const layoutProblems = `(() => {
  const bad = [];
  const name = e => e.id || (e.closest("section") ? e.closest("section").id + " " : "") + (e.className || e.tagName.toLowerCase());
  const shown = e => e.getClientRects().length > 0;
  if (document.documentElement.scrollWidth > window.innerWidth) bad.push("page scrolls sideways: " + document.documentElement.scrollWidth + " > " + window.innerWidth);
  for (const e of document.querySelectorAll("main section, main .scroll, main table, main .cards, header, header *")) {
    if (shown(e) && e.scrollWidth > e.clientWidth + 1) bad.push(name(e) + " scrolls sideways: " + e.scrollWidth + " > " + e.clientWidth);
  }
  for (const td of document.querySelectorAll("main td, main th")) {
    if (!shown(td)) continue;
    const sec = td.closest("section").getBoundingClientRect(), r = td.getBoundingClientRect();
    if (r.right > sec.right + 1 || r.left < sec.left - 1) bad.push(name(td) + " cell " + JSON.stringify(td.textContent) + " outside its section");
  }
  const main = document.querySelector("main"), mw = main.clientWidth - parseFloat(getComputedStyle(main).paddingLeft) - parseFloat(getComputedStyle(main).paddingRight);
  const rows = new Map();
  for (const s of main.children) {
    if (!shown(s)) continue;
    const r = s.getBoundingClientRect();
    rows.set(Math.round(r.top), (rows.get(Math.round(r.top)) || 0) + r.width);
  }
  for (const [top, w] of rows) if (w < mw * 0.75) bad.push("grid row at " + top + " px fills " + Math.round(w) + " of " + Math.round(mw) + " px");
  for (const c of document.querySelectorAll("header button, header a, header .pill")) {
    if (!shown(c)) continue;
    const rg = document.createRange();
    rg.selectNodeContents(c);
    const lines = new Set(Array.from(rg.getClientRects()).filter(r => r.width > 0).map(r => Math.round(r.top)));
    if (lines.size > 1) bad.push("header control " + JSON.stringify(c.textContent) + " wraps over " + lines.size + " lines");
  }
  return bad.join("\n");
})()`

// Issue 22 item 13: at 1280×800, 1920×1080 and 390×844 no card scrolls
// sideways (the Doors table shows LAST OPEN), no grid row is half empty,
// the goods count has its own card, and the header's buttons keep their
// labels on one line. Screenshots of each size are kept.
func TestStatusPageLayout(t *testing.T) {
	b := newBrowser(t, 90*time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d := harness.New(t, `[payments]
provider = "test"
[[doors]]
id = "front-entrance"
secret = "door-secret"
policy = "entry"
[[doors]]
id = "back-exit-loading-bay"
secret = "door-secret"
policy = "exit"
`)
	cfg, err := os.ReadFile(d.Config)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(d.Config, []byte(strings.Replace(string(cfg), `admission = "open"`, `admission = "pairing"`, 1)), 0o644)
	d.Start()

	// 84 goods, as in the report.
	var csv strings.Builder
	csv.WriteString("gid,barcode,gname,price,unit,stock\n")
	for i := range 84 {
		fmt.Fprintf(&csv, "G%d,69000000%05d,Goods %d,%d,pcs,10\n", i, i, i, 100+i)
	}
	req, _ := http.NewRequest("POST", "http://"+d.HTTPAddr+"/api/v1/catalog?format=csv", strings.NewReader(csv.String()))
	req.Header.Set("Authorization", "Bearer "+d.AdminToken())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("catalog import: %s", resp.Status)
	}
	// A door that opened (its LAST OPEN cell is the long one), one pending
	// terminal, one admitted terminal with an order.
	door, err := doorsim.Start(ctx, doorsim.Config{Broker: d.MQTTAddr, StoreID: "test", DoorID: "front-entrance", Secret: "door-secret"})
	if err != nil {
		t.Fatal(err)
	}
	defer door.Close()
	if out, err := d.Run("door", "open", "front-entrance", "--reason", "delivery"); err != nil {
		t.Fatalf("door open: %v %s", err, out)
	}
	pend, err := d.Dial("T-PENDING-COUNTER-2")
	if err != nil {
		t.Fatal(err)
	}
	pend.Call("login", map[string]any{"kind": "terminal", "name": "self-checkout by the entrance"})
	pend.Close()
	approve, _ := http.NewRequest("POST", "http://"+d.HTTPAddr+"/api/v1/devices/T-TILL-1/approve", nil)
	approve.Header.Set("Authorization", "Bearer "+d.AdminToken())
	if resp, err := http.DefaultClient.Do(approve); err == nil {
		resp.Body.Close()
	}
	till, err := d.Dial("T-TILL-1")
	if err != nil {
		t.Fatal(err)
	}
	defer till.Close()
	till.Login(t, map[string]any{"kind": "terminal", "name": "till 1"})
	if r, err := till.Call("getPayInfo", map[string]any{"order_id": "A-1", "pay_method": "cash", "lines": []map[string]any{{"gid": "G1", "qty": 2}}}); err != nil || r.Exception() != "" {
		t.Fatalf("getPayInfo: %v %s", err, r.Raw)
	}

	b.signIn(t, d.HTTPAddr, d.AdminToken())
	b.waitJS(t, "the data", `Array.from(document.querySelectorAll("#doors td")).some(td => td.textContent.startsWith("opened"))`+
		` && !!document.querySelector('#pending-table tr[data-equip-id="T-PENDING-COUNTER-2"]')`+
		` && Array.from(document.querySelectorAll("#recent-table td")).length > 0 && !document.getElementById("phone-link").hidden`)

	for _, vp := range []struct {
		name string
		w, h int64
		opts []chromedp.EmulateViewportOption
	}{
		{"1920x1080", 1920, 1080, nil},
		{"1280x800", 1280, 800, nil},
		{"390x844", 390, 844, []chromedp.EmulateViewportOption{chromedp.EmulateScale(3), chromedp.EmulateMobile}},
	} {
		b.Do(t, "viewport "+vp.name, chromedp.EmulateViewport(vp.w, vp.h, vp.opts...))
		b.waitJS(t, "the "+vp.name+" layout", fmt.Sprintf(`window.innerWidth === %d`, vp.w))
		// Two frames: the layout of the new size is done.
		if _, err := chromedp.Run(b.Ctx, chromedp.Evaluate[bool](`new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))`, chromedp.EvalAwaitPromise)); err != nil {
			t.Fatal(err)
		}
		b.screenshot(t, "storebox-statuspage-layout-"+vp.name+".png")
		// And the first screen, as the technician sees it.
		if path, err := b.ScreenshotViewport("storebox-statuspage-layout-" + vp.name + "-screen.png"); err == nil {
			t.Logf("screenshot: %s", path)
		}
		if p := eval[string](t, b, layoutProblems); p != "" {
			t.Errorf("at %s:\n%s", vp.name, p)
		}
		if g := eval[string](t, b, `(document.querySelector("#catalog .num") || {}).textContent || ""`); g != "84" {
			t.Errorf("at %s the goods card shows %q, want 84", vp.name, g)
		}
		if eval[bool](t, b, `document.getElementById("devices").textContent.includes("goods")`) {
			t.Errorf("at %s the goods count is still in the Devices online card", vp.name)
		}
		if eval[bool](t, b, `!Array.from(document.querySelectorAll("#doors th, #doors td")).some(e => e.getClientRects().length && /last open/i.test(e.textContent + (e.dataset.label || "")))`) {
			t.Errorf("at %s the Doors table shows no LAST OPEN", vp.name)
		}
	}
	if errs := b.Errors(); len(errs) > 0 {
		t.Errorf("page errors:\n%s", strings.Join(errs, "\n"))
	}
}
