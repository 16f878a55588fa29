package fleet

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/storebox/storebox/protocol/fleetmsg"
	"github.com/storebox/storebox/sync/cloudref/fleetconsole"
	"github.com/storebox/storebox/test/harness"
	"github.com/storebox/storebox/test/testenv"
)

const healthInterval = time.Second

// newStore prepares a real daemon reporting to cloudURL as store id, with
// the sample catalog imported; edit changes its generated config.
func newStore(t *testing.T, cloudURL, id, extra string, edit func(string) string) *harness.Daemon {
	t.Helper()
	d := harness.New(t, fmt.Sprintf(`[upstream]
url = %q
secret = %q
[fleet]
health_interval = %q
config_interval = %q
%s`, cloudURL, cloudSecret, healthInterval, healthInterval, extra))
	b, err := os.ReadFile(d.Config)
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(string(b), `store_id = "test"`, fmt.Sprintf("store_id = %q", id), 1)
	if edit != nil {
		cfg = edit(cfg)
	}
	if err := os.WriteFile(d.Config, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := d.Run("catalog", "import", filepath.Join(harness.ModuleRoot(), "packaging", "sample", "catalog.csv")); err != nil {
		t.Fatalf("import the sample catalog into %s: %v\n%s", id, err, out)
	}
	return d
}

// scaleSim runs `storebox sim scale` on a pty behind link; lines written to
// the returned writer control it ("unplug", "plug", grams).
func scaleSim(t *testing.T, link string) io.Writer {
	t.Helper()
	sim := exec.Command(harness.Binary(t), "sim", "scale", "--protocol", "cas", "--link", link, "--weight", "1234")
	stdin, _ := sim.StdinPipe()
	stdout, _ := sim.StdoutPipe()
	if err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Process.Kill(); sim.Wait() })
	if _, err := bufio.NewReader(stdout).ReadString('\n'); err != nil {
		t.Fatalf("scale simulator: %v", err)
	}
	go io.Copy(io.Discard, stdout)
	return stdin
}

// cloudStore reads one store from the cloud's GET /fleet.json.
func cloudStore(t *testing.T, cloudURL, id string) (fleetconsole.Store, bool) {
	t.Helper()
	resp, err := http.Get(cloudURL + "/fleet.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v fleetconsole.View
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		t.Fatal(err)
	}
	for _, s := range v.Stores {
		if s.ID == id {
			return s, true
		}
	}
	return fleetconsole.Store{}, false
}

func hasAlert(s fleetconsole.Store, kind, subject string) bool {
	for _, a := range s.Alerts {
		if a.Kind == kind && (subject == "" || a.Subject == subject) {
			return true
		}
	}
	return false
}

// Twenty real daemons against one reference cloud, seen on its fleet page:
// all listed; a scale unplugged in one shows as scale_fault within 10 s; a
// pending device in another raises device_pending within 5 s; a desired
// configuration is applied and shown; a killed one shows offline after 3
// health intervals.
func TestTwentyDaemonsOnTheFleetPage(t *testing.T) {
	testenv.RequireCommand(t, "chromium")
	const n = 20
	cloud := startCloud(t, healthInterval)
	link := filepath.Join(t.TempDir(), "scale-by-id")
	scale := scaleSim(t, link)

	const scaleStore, pairingStore, killedStore = "fleet-03", "fleet-05", "fleet-09"
	daemons := map[string]*harness.Daemon{}
	for i := range n {
		id := fmt.Sprintf("fleet-%02d", i)
		extra, edit := "", func(c string) string { return c }
		switch id {
		case scaleStore:
			extra = fmt.Sprintf("[[scales]]\nid = \"S1\"\nport = %q\nprotocol = \"cas\"\n", link)
		case pairingStore:
			edit = func(c string) string { return strings.Replace(c, `admission = "open"`, `admission = "pairing"`, 1) }
		}
		daemons[id] = newStore(t, cloud.URL, id, extra, edit)
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for id, d := range daemons {
		if err := d.StartNoWait(); err != nil {
			t.Fatalf("start %s: %v", id, err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := d.WaitReady(60 * time.Second); err != nil {
				errs <- fmt.Errorf("%s: %v\n%s", id, err, d.Log())
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	b := newBrowser(t, 3*time.Minute)
	b.Do(t, "open the fleet page", chromedp.Navigate(cloud.URL+"/"))
	b.WaitJS(t, "20 stores, none offline", fmt.Sprintf(`document.querySelectorAll("#stores tbody tr").length === %d && `+
		`document.querySelectorAll('#stores tr[data-state="offline"]').length === 0`, n), 30*time.Second)
	for id := range daemons {
		if eval[string](t, b, rowState(id)) == "" {
			t.Errorf("store %s not on the page", id)
		}
	}
	// The scale reads before it is unplugged (a fault at start clears).
	b.WaitJS(t, "the scale store without a scale fault", `!`+rowHasAlert(scaleStore, fleetmsg.AlertScaleFault)+` && `+rowState(scaleStore)+` !== ""`, 30*time.Second)

	// A scale unplugged: scale_fault on the page within 10 s.
	fmt.Fprintln(scale, "unplug")
	took := b.WaitJS(t, "scale_fault on the page", rowHasAlert(scaleStore, fleetmsg.AlertScaleFault), 30*time.Second)
	t.Logf("unplugged scale to scale_fault on the fleet page: %s", took.Round(10*time.Millisecond))
	if took > 10*time.Second {
		t.Errorf("scale_fault took %s to reach the fleet page, want within 10 s", took.Round(10*time.Millisecond))
	}
	if s, _ := cloudStore(t, cloud.URL, scaleStore); !hasAlert(s, fleetmsg.AlertScaleFault, "S1") {
		t.Errorf("the cloud's scale_fault does not name scale S1: %+v", s.Alerts)
	}

	// A device waiting for approval: device_pending at the cloud within 5 s,
	// then on the page.
	dev, err := daemons[pairingStore].Dial("T-NEW")
	if err != nil {
		t.Fatal(err)
	}
	r, err := dev.Call("login", map[string]any{"kind": "terminal"})
	dev.Close()
	if err != nil || r.Code() != "pending_approval" {
		t.Fatalf("login in pairing mode: %v %s", err, r.Raw)
	}
	start := time.Now()
	for {
		if s, _ := cloudStore(t, cloud.URL, pairingStore); hasAlert(s, fleetmsg.AlertDevicePending, "T-NEW") {
			break
		}
		if time.Since(start) > 30*time.Second {
			t.Fatalf("no device_pending for T-NEW at the cloud after 30 s\n%s", daemons[pairingStore].Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
	took = time.Since(start)
	t.Logf("pending device to device_pending at the cloud: %s", took.Round(10*time.Millisecond))
	if took > 5*time.Second {
		t.Errorf("device_pending took %s to reach the cloud, want within 5 s", took.Round(10*time.Millisecond))
	}
	b.WaitJS(t, "device_pending on the page", rowHasAlert(pairingStore, fleetmsg.AlertDevicePending), 10*time.Second)

	// Steered from the console: a desired configuration reaches a real
	// daemon, which reports it applied.
	putDesired(t, cloud.URL, "fleet-00", `{"version": 1, "config": {"devices": {"approve": ["T-REMOTE"]}}}`)
	b.WaitJS(t, "fleet-00's applied config v1", `(document.querySelector('`+row("fleet-00")+` td.config') || {}).textContent === "v1 remote"`, 15*time.Second)

	// A daemon killed: offline after 3 intervals, first on the page; the
	// others stay online.
	daemons[killedStore].Kill()
	killed := time.Now()
	b.WaitJS(t, "the killed store offline", rowState(killedStore)+` === "offline"`, 30*time.Second)
	took = time.Since(killed)
	t.Logf("killed daemon to offline on the fleet page: %s (3 intervals = %s, page polls every 2 s)", took.Round(10*time.Millisecond), 3*healthInterval)
	if took > 3*healthInterval+healthInterval+2*time.Second+2*time.Second {
		t.Errorf("offline shown after %s, want about 3 intervals (%s) plus the page's poll", took.Round(10*time.Millisecond), 3*healthInterval)
	}
	if first := eval[string](t, b, `document.querySelector("#stores tbody tr").dataset.store`); first != killedStore {
		t.Errorf("first row is %s, want the offline store %s", first, killedStore)
	}
	if got := eval[float64](t, b, `document.querySelectorAll('#stores tr[data-state="offline"]').length`); got != 1 {
		t.Errorf("%v stores offline, want only %s", got, killedStore)
	}
	b.screenshot(t, "storebox-fleet-20-daemons.png")
	if errs := b.Errors(); len(errs) > 0 {
		t.Errorf("page errors:\n%s", strings.Join(errs, "\n"))
	}
}
