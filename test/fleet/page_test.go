package fleet

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/storebox/storebox/protocol/fleetmsg"
	"github.com/storebox/storebox/protocol/ledger"
	"github.com/storebox/storebox/test/harness"
)

// putHealth sends one signed snapshot as store, like a daemon.
func putHealth(t testing.TB, cloudURL, store string, h fleetmsg.Health) {
	t.Helper()
	body, _ := json.Marshal(h)
	path := "/v1/stores/" + store + "/health"
	req, _ := http.NewRequest("PUT", cloudURL+path, bytes.NewReader(body))
	req.Header.Set(ledger.HeaderStore, store)
	req.Header.Set(ledger.HeaderSignature, ledger.Sign(cloudSecret, time.Now(), body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("PUT %s: %d", path, resp.StatusCode)
	}
}

// putDesired stores a desired configuration through the admin endpoint.
func putDesired(t testing.TB, cloudURL, store, doc string) {
	t.Helper()
	admin(t, "PUT", cloudURL+"/v1/admin/stores/"+store+"/config", doc)
}

// The fleet page with a few hundred simulated stores: every store listed,
// offline and alerting ones first, store text shown as text, live updates,
// a filter, and a layout that reads on a phone.
func TestFleetPageWithSimulatedStores(t *testing.T) {
	const stores = 300
	b := newBrowser(t, 90*time.Second)
	cloud := startCloud(t, time.Second)
	startSimFleet(t, cloud.URL, "--stores", fmt.Sprint(stores), "--interval", "1s", "--alert-rate", "0.05", "--event-interval", "2s")

	// One store reports once, with markup in what it sends, then goes quiet.
	evil := `<img src=x onerror="window.__xss=1">`
	putHealth(t, cloud.URL, "zz-quiet", fleetmsg.Health{At: time.Now().UTC(), Version: evil, Ready: true,
		Alerts: []fleetmsg.Alert{{Kind: fleetmsg.AlertDiskLow, Subject: "/var/lib/storebox", Since: time.Now().UTC(), Message: evil}}})

	b.Do(t, "open the fleet page", chromedp.Navigate(cloud.URL+"/"))
	b.WaitJS(t, "every store listed", fmt.Sprintf(`document.querySelectorAll("#stores tbody tr").length === %d`, stores+1), 20*time.Second)
	if got := eval[string](t, b, `document.getElementById("count-total").textContent`); got != fmt.Sprintf("%d stores", stores+1) {
		t.Errorf("summary says %q", got)
	}

	// The quiet store goes offline after 3 intervals and sorts first.
	b.WaitJS(t, "the quiet store offline and first", `document.querySelector("#stores tbody tr").dataset.store === "zz-quiet" && `+rowState("zz-quiet")+` === "offline"`, 15*time.Second)
	if eval[bool](t, b, `window.__xss === 1`) {
		t.Fatal("markup from a store ran on the page")
	}
	if got := eval[string](t, b, `document.querySelector('`+row("zz-quiet")+` td.version').textContent`); got != evil {
		t.Errorf("version cell shows %q, want the text as sent", got)
	}
	if !eval[bool](t, b, rowHasAlert("zz-quiet", fleetmsg.AlertDiskLow)) {
		t.Error("the quiet store's disk_low alert is not shown")
	}
	// Order: offline, then alerting, then ok.
	order := `(() => { const r = {offline: 0, alerting: 1, ok: 2}; let last = 0;
	  for (const tr of document.querySelectorAll("#stores tbody tr")) { const v = r[tr.dataset.state]; if (v < last) return false; last = v; }
	  return true; })()`
	if !eval[bool](t, b, order) {
		t.Error("rows are not offline first, then alerting, then ok")
	}
	b.WaitJS(t, "some simulated store with an alert", `document.querySelectorAll('#stores tr[data-state="alerting"]').length > 0`, 20*time.Second)

	// Live: a desired configuration reaches a store and its applied version
	// shows without a reload.
	putDesired(t, cloud.URL, "sim-0007", `{"version": 2, "config": {"devices": {"admission": "open"}}}`)
	b.WaitJS(t, "sim-0007's applied config v2", `(document.querySelector('`+row("sim-0007")+` td.config') || {}).textContent === "v2 remote"`, 15*time.Second)
	if !eval[bool](t, b, `document.getElementById("live").textContent === "live"`) {
		t.Error("live indicator not live")
	}

	// The filter narrows the list.
	b.Do(t, "filter", chromedp.SendKeys(chromedp.CSS("#filter"), "sim-000"))
	b.WaitJS(t, "ten stores", `document.querySelectorAll("#stores tbody tr").length === 10`, 5*time.Second)
	b.screenshot(t, "storebox-fleetpage.png")

	// A phone: cards, not a table wider than the screen.
	b.Do(t, "phone viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(3), chromedp.EmulateMobile))
	b.WaitJS(t, "the phone layout", `window.innerWidth <= 400`, 5*time.Second)
	if eval[bool](t, b, `document.documentElement.scrollWidth > window.innerWidth + 1`) {
		t.Errorf("page scrolls sideways at 390 px wide (scrollWidth %v)", eval[float64](t, b, `document.documentElement.scrollWidth`))
	}
	if got := eval[string](t, b, `getComputedStyle(document.querySelector("#stores thead")).display`); got != "none" {
		t.Errorf("table head shown on a phone (display %s)", got)
	}
	if eval[float64](t, b, `document.querySelector("#stores tbody tr").getBoundingClientRect().width`) > 390 {
		t.Error("a store's card is wider than the phone")
	}
	b.screenshot(t, "storebox-fleetpage-phone.png")

	if errs := b.Errors(); len(errs) > 0 {
		t.Errorf("page errors:\n%s", strings.Join(errs, "\n"))
	}
}

// `storebox sim fleet` says what is wrong with its arguments.
func TestSimFleetRefusesBadArguments(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--stores", "3"}, `"cloud" not set`},
		{[]string{"--cloud", "127.0.0.1:8700", "--secret", "k"}, "must start with http://"},
		{[]string{"--cloud", "http://127.0.0.1:1"}, "no secret"},
		{[]string{"--cloud", "http://127.0.0.1:1", "--secret", "k", "--stores", "0"}, "at least 1"},
	} {
		cmd := exec.Command(harness.Binary(t), append([]string{"sim", "fleet"}, c.args...)...)
		cmd.Env = append(os.Environ(), "STOREBOX_UPSTREAM_SECRET=")
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), c.want) {
			t.Errorf("sim fleet %v: %v, output %q (want %q)", c.args, err, out, c.want)
		}
	}
}
