package fleet

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/storebox/storebox/protocol/fleetmsg"
	"github.com/storebox/storebox/test/harness"
	"github.com/storebox/storebox/test/testenv"
)

// desiredAt reads a store's desired configuration through the admin API.
func desiredAt(t *testing.T, cloudURL, store string) (version float64, config map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("GET", cloudURL+"/v1/admin/stores/"+store+"/config", nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var d struct {
		Version float64        `json:"version"`
		Config  map[string]any `json:"config"`
	}
	if resp.StatusCode == http.StatusOK {
		json.NewDecoder(resp.Body).Decode(&d)
	}
	return d.Version, d.Config
}

// storeDoors are the door ids a running daemon reports on its status API.
func storeDoors(t *testing.T, d *harness.Daemon) string {
	t.Helper()
	resp, err := d.Get("/api/v1/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var st struct {
		Doors []struct {
			ID     string `json:"id"`
			Policy string `json:"policy"`
		} `json:"doors"`
	}
	json.Unmarshal(b, &st)
	var ids []string
	for _, d := range st.Doors {
		ids = append(ids, d.ID+":"+d.Policy)
	}
	return strings.Join(ids, ",")
}

// Issue 22 item 14, through the real storebox-cloud and a real store: the
// details view shows the latest health, the alerts with their history and
// the applied and desired configuration side by side (secrets hidden);
// signed in with the admin token, approving a pending device and adding a
// door reach the cloud's desired configuration and the store applies them;
// a poll re-makes only the rows that changed.
func TestFleetPageDetailsAndAdmin(t *testing.T) {
	testenv.RequireCommand(t, "chromium")
	// A long interval: the quiet stores below stay "ok" for the whole test,
	// while the real store reports every second (its own interval).
	cloud := startCloud(t, time.Minute)
	const id = "fleet-det"
	d := newStore(t, cloud.URL, id, "[[doors]]\nid = \"front\"\nsecret = \"file-door-secret\"\npolicy = \"entry\"\n",
		func(c string) string { return strings.Replace(c, `admission = "open"`, `admission = "pairing"`, 1) })
	d.Start()
	putDesired(t, cloud.URL, id, `{"version": 1, "config": {"doors": [{"id": "front", "secret": "door-secret-v1", "policy": "entry"}]}}`)
	for i := range 30 {
		putHealth(t, cloud.URL, fmt.Sprintf("quiet-%02d", i), fleetmsg.Health{At: time.Now().UTC(), Version: "1.0.0", Ready: true})
	}
	dev, err := d.Dial("T-NEW")
	if err != nil {
		t.Fatal(err)
	}
	if r, err := dev.Call("login", map[string]any{"kind": "terminal"}); err != nil || r.Code() != "pending_approval" {
		t.Fatalf("login in pairing mode: %v %s", err, r.Raw)
	}
	dev.Close()
	testenv.EventuallyWithin(t, 30*time.Second, "v1 applied and T-NEW pending at the cloud", func() bool {
		s, _ := cloudStore(t, cloud.URL, id)
		return s.Config.Version == 1 && hasAlert(s, fleetmsg.AlertDevicePending, "T-NEW")
	})

	b := newBrowser(t, 3*time.Minute)
	b.Do(t, "open the fleet page", chromedp.Navigate(cloud.URL+"/"))
	b.WaitJS(t, "31 stores", `document.querySelectorAll("#stores tbody tr").length === 31`, 20*time.Second)

	// Only changed rows are made again: every row gets a mark (a DOM
	// property, lost if its element is replaced); one quiet store then
	// reports an alert.
	eval[bool](t, b, `(document.querySelectorAll("#stores tbody tr").forEach(tr => tr.__mark = true), true)`)
	putHealth(t, cloud.URL, "quiet-05", fleetmsg.Health{At: time.Now().UTC(), Version: "1.0.0", Ready: true,
		Alerts: []fleetmsg.Alert{{Kind: fleetmsg.AlertDiskLow, Subject: "/var/lib/storebox", Since: time.Now().UTC(), Message: "disk low"}}})
	b.WaitJS(t, "quiet-05's alert", rowHasAlert("quiet-05", fleetmsg.AlertDiskLow), 10*time.Second)
	// Two more polls, in which the real store reports too.
	b.WaitJS(t, "two more polls", `new Promise(r => setTimeout(() => r(true), 4500))`, 10*time.Second)
	kept := eval[string](t, b, `Array.from(document.querySelectorAll("#stores tbody tr")).filter(tr => tr.dataset.store.startsWith("quiet-") && !tr.__mark).map(tr => tr.dataset.store).join(",")`)
	if kept != "quiet-05" {
		t.Errorf("rows made again across the polls: %q, want only quiet-05", kept)
	}
	if got := eval[string](t, b, `document.querySelector("#stores tbody tr").dataset.store`); got != "quiet-05" && got != id {
		t.Errorf("first row %s: stores with alerts sort first", got)
	}

	// The details view.
	press(t, b, "open the store's details", row(id)+` td.store a`)
	b.WaitJS(t, "the details", `!document.getElementById("details").hidden && !!document.querySelector("#details .desired-config")`, 10*time.Second)
	text := eval[string](t, b, `document.getElementById("details").innerText`)
	for _, want := range []string{"Health", "Uptime", "0.1.0", "device_pending", "T-NEW", "raised", "Applied by the store", "Desired in the cloud", "Refusals", "front"} {
		if !strings.Contains(text, want) {
			t.Errorf("details lack %q:\n%s", want, text)
		}
	}
	if applied := eval[string](t, b, `document.querySelector("#details .applied-config").textContent`); !strings.Contains(applied, `"front"`) || !strings.Contains(applied, "(hidden)") {
		t.Errorf("applied configuration shown as %s", applied)
	}
	if strings.Contains(text, "door-secret-v1") || strings.Contains(eval[string](t, b, `document.documentElement.outerHTML`), "door-secret-v1") {
		t.Error("the details show a door secret")
	}
	if path, err := b.ScreenshotViewport("storebox-fleet-details-health.png"); err == nil {
		t.Logf("screenshot: %s", path)
	}
	if !strings.Contains(eval[string](t, b, `location.hash`), id) {
		t.Error("the details are not addressed by the location's hash")
	}

	// Admin sign-in: a wrong token is refused, the right one kept in the
	// page's memory only.
	press(t, b, "press Admin sign-in", "#d-signin")
	b.Do(t, "type a wrong token", chromedp.SendKeys(chromedp.CSS("#admin-token"), "not-the-token"))
	press(t, b, "submit", "#admin-submit")
	b.WaitJS(t, "the refusal", `document.getElementById("admin-msg").textContent.includes("not accepted")`, 10*time.Second)
	eval[bool](t, b, `(document.getElementById("admin-token").value = "", true)`)
	b.Do(t, "type the token", chromedp.SendKeys(chromedp.CSS("#admin-token"), adminToken))
	press(t, b, "submit", "#admin-submit")
	b.WaitJS(t, "signed in", `!document.getElementById("admin-on").hidden && !!document.querySelector('#d-pending [data-equip-id="T-NEW"] button')`, 10*time.Second)
	if where := eval[string](t, b, `location.href + JSON.stringify(Object.entries(localStorage)) + JSON.stringify(Object.entries(sessionStorage)) + document.cookie`); strings.Contains(where, adminToken) {
		t.Errorf("the admin token is kept where it can leak: %s", where)
	}

	// Approve the pending device: the cloud's desired configuration names
	// it, the store applies it, and the device is admitted.
	press(t, b, "press Approve", `#d-pending [data-equip-id="T-NEW"] button`)
	b.WaitJS(t, "the approval stored", `document.getElementById("d-msg").textContent.includes("v2 stored")`, 10*time.Second)
	if v, cfg := desiredAt(t, cloud.URL, id); v != 2 || fmt.Sprint(cfg["devices"]) != "map[approve:[T-NEW]]" || fmt.Sprint(cfg["doors"]) == "<nil>" {
		t.Errorf("desired after the approval: v%v %v", v, cfg)
	}
	testenv.EventuallyWithin(t, 30*time.Second, "the store applies v2", func() bool { s, _ := cloudStore(t, cloud.URL, id); return s.Config.Version == 2 })
	dev, err = d.Dial("T-NEW")
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	if r, err := dev.Call("login", map[string]any{"kind": "terminal"}); err != nil || r.Exception() != "" {
		t.Errorf("login after the approval from the fleet page: %v %s", err, r.Raw)
	}

	// Add a door: the desired doors keep "front" with its secret and add
	// "back"; the store runs both.
	eval[bool](t, b, `(document.getElementById("door-id").value = "back", document.getElementById("door-policy").value = "exit", true)`)
	b.Do(t, "type the door secret", chromedp.SendKeys(chromedp.CSS("#door-secret"), "back-door-secret"))
	press(t, b, "press Add or change door", "#door-save")
	b.WaitJS(t, "the door stored", `document.getElementById("d-msg").textContent.includes("v3 stored")`, 10*time.Second)
	_, cfg := desiredAt(t, cloud.URL, id)
	if doors, _ := json.Marshal(cfg["doors"]); !strings.Contains(string(doors), `"id":"front","policy":"entry","secret":"door-secret-v1"`) || !strings.Contains(string(doors), `"id":"back","policy":"exit","secret":"back-door-secret"`) {
		t.Errorf("desired doors after adding back: %s", doors)
	}
	testenv.EventuallyWithin(t, 30*time.Second, "the store runs door back", func() bool { return storeDoors(t, d) == "front:entry,back:exit" })

	// Removing a door the store runs asks twice.
	eval[bool](t, b, `(document.getElementById("door-id").value = "front", true)`)
	press(t, b, "press Remove door", "#door-remove")
	b.WaitJS(t, "the warning", `document.getElementById("d-msg").textContent.includes("removes door front")`, 10*time.Second)
	if v, _ := desiredAt(t, cloud.URL, id); v != 3 {
		t.Errorf("a removal pushed without the second press: v%v", v)
	}
	press(t, b, "press Remove door again", "#door-remove")
	b.WaitJS(t, "the removal stored", `document.getElementById("d-msg").textContent.includes("v4 stored")`, 10*time.Second)
	testenv.EventuallyWithin(t, 30*time.Second, "the store runs only door back", func() bool { return storeDoors(t, d) == "back:exit" })
	b.WaitJS(t, "the details show v4 applied", `document.querySelector("#details .desired-config") && document.getElementById("d-body").textContent.includes("v4, set") && document.getElementById("d-body").textContent.includes("(applied)")`, 15*time.Second)
	if path, err := b.ScreenshotViewport("storebox-fleet-details.png"); err == nil {
		t.Logf("screenshot: %s", path)
	}
	eval[bool](t, b, `(document.getElementById("details").scrollTop = 1e6, true)`)
	if path, err := b.ScreenshotViewport("storebox-fleet-details-admin.png"); err == nil {
		t.Logf("screenshot: %s", path)
	}

	// One store's documents faulted by the cloud: the store refuses the
	// garbage, and its row and details say so; the fault ends and the
	// refusal clears, its record stays.
	setFault := func(mode string) {
		admin(t, "PUT", cloud.URL+"/v1/admin/stores/"+id+"/config-fault", `{"mode": "`+mode+`"}`)
	}
	setFault("garbage")
	// A newer desired version makes the store fetch a body again.
	putDesired(t, cloud.URL, id, `{"version": 5, "config": {"doors": [{"id": "back", "secret": "back-door-secret", "policy": "exit"}]}}`)
	b.WaitJS(t, "the fault and the refusal on the row", `(document.querySelector('`+row(id)+` td.config') || {}).textContent.includes("cloud fault: garbage") && `+rowHasAlert(id, fleetmsg.AlertConfigRefused), 20*time.Second)
	b.WaitJS(t, "the refusal in the details", `Array.from(document.querySelectorAll("#d-body td")).some(td => td.textContent === "store") && document.getElementById("d-body").textContent.includes("Cloud fault")`, 10*time.Second)
	setFault("")
	b.WaitJS(t, "the refusal cleared", `!`+rowHasAlert(id, fleetmsg.AlertConfigRefused)+` && !document.querySelector('`+row(id)+` td.config').textContent.includes("fault")`, 20*time.Second)
	if !eval[bool](t, b, `Array.from(document.querySelectorAll("#d-body td")).some(td => td.textContent === "store")`) {
		t.Error("the store's refusal left the details' record when it cleared")
	}

	// On a phone the details fill the screen and nothing in them scrolls
	// sideways.
	b.Do(t, "phone viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(3), chromedp.EmulateMobile))
	b.WaitJS(t, "the phone layout", `window.innerWidth <= 400`, 5*time.Second)
	wide := `Array.from(document.querySelectorAll("#details, #details *")).filter(e => e.getClientRects().length && e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflowX !== "visible" || e.getBoundingClientRect && e.getBoundingClientRect().right > window.innerWidth + 1).map(e => e.tagName + "." + e.className + " " + (e.id || "")).slice(0, 10).join(", ")`
	if got := eval[string](t, b, wide); got != "" {
		t.Errorf("at 390 px the details scroll sideways or reach past the screen: %s", got)
	}
	if path, err := b.ScreenshotViewport("storebox-fleet-details-phone.png"); err == nil {
		t.Logf("screenshot: %s", path)
	}

	press(t, b, "close the details", "#d-close")
	b.WaitJS(t, "the details closed", `document.getElementById("details").hidden`, 5*time.Second)
	var errs []string
	for _, e := range b.Errors() {
		if !strings.Contains(e, "status of 401") { // the wrong token, asked for
			errs = append(errs, e)
		}
	}
	if len(errs) > 0 {
		t.Errorf("page errors:\n%s", strings.Join(errs, "\n"))
	}
}

// press clicks the element selector finds, found and clicked in one script:
// the page makes rows and the details' lists again as polls arrive, and a
// node held between two protocol calls (chromedp.Click) may by then be gone
// ("Could not find node with given id").
func press(t *testing.T, b *browser, what, selector string) {
	t.Helper()
	sel, _ := json.Marshal(selector)
	b.WaitJS(t, what, `(() => { const e = document.querySelector(`+string(sel)+`); if (!e) return false; e.click(); return true })()`, 10*time.Second)
}
