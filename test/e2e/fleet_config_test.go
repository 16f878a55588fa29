package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/storebox/storebox/daemon/doors/doorsim"
	"github.com/storebox/storebox/protocol/devmsg"
	"github.com/storebox/storebox/protocol/ledger"
	"github.com/storebox/storebox/test/harness"
)

const fleetSecret = "fleet-e2e-secret"

// fleetDaemon is a daemon under pairing admission whose upstream is
// cloudURL, polling for configuration every second.
func fleetDaemon(t *testing.T, cloudURL, extra string) *harness.Daemon {
	t.Helper()
	d := harness.New(t, fmt.Sprintf(`
[upstream]
url = %q
secret = %q
timeout = "1s"
[fleet]
health_interval = "2s"
config_interval = "1s"
%s`, cloudURL, fleetSecret, extra))
	pairing(t, d)
	if out, err := d.Run("catalog", "import", sample()); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	return d
}

// pairing turns the harness's open admission into pairing.
func pairing(t *testing.T, d *harness.Daemon) {
	t.Helper()
	b, err := os.ReadFile(d.Config)
	if err != nil {
		t.Fatal(err)
	}
	b = bytes.Replace(b, []byte(`admission = "open"`), []byte(`admission = "pairing"`), 1)
	if err := os.WriteFile(d.Config, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// configStatus is the "config" section of GET /api/v1/status.
type configStatus struct {
	Source  string `json:"source"`
	Version uint64 `json:"version"`
	Refused *struct {
		Version string `json:"version"`
		Reason  string `json:"reason"`
	} `json:"refused"`
}

func statusConfig(t *testing.T, d *harness.Daemon) (configStatus, bool) {
	req, _ := http.NewRequest("GET", "http://"+d.HTTPAddr+"/api/v1/status", nil)
	req.Header.Set("Authorization", "Bearer "+d.AdminToken())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return configStatus{}, false
	}
	defer resp.Body.Close()
	var st struct {
		Config configStatus `json:"config"`
	}
	if json.NewDecoder(resp.Body).Decode(&st) != nil {
		return configStatus{}, false
	}
	return st.Config, true
}

// waitConfig waits until the daemon's config status satisfies ok.
func waitConfig(t *testing.T, d *harness.Daemon, what string, ok func(configStatus) bool) configStatus {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if c, got := statusConfig(t, d); got && ok(c) {
			return c
		}
		if time.Now().After(deadline) {
			c, _ := statusConfig(t, d)
			t.Fatalf("config never %s (last %+v)\n%s", what, c, d.Log())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func refusedWith(version, reason string) func(configStatus) bool {
	return func(c configStatus) bool {
		return c.Refused != nil && c.Refused.Version == version && strings.Contains(c.Refused.Reason, reason)
	}
}

// doorConnects reports whether a door can log in to the broker with secret.
func doorConnects(d *harness.Daemon, id, secret string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := doorsim.Start(ctx, doorsim.Config{Broker: d.MQTTAddr, StoreID: "test", DoorID: id, Secret: secret})
	if err == nil {
		c.Close()
	}
	return err
}

// sells checks that a terminal still gets goods: the store keeps selling
// whatever the cloud sends.
func sells(t *testing.T, d *harness.Daemon) {
	t.Helper()
	if out, err := d.Run("devices", "approve", "T-SELL"); err != nil {
		t.Fatalf("approve T-SELL: %v %s", err, out)
	}
	term, err := d.Dial("T-SELL")
	if err != nil {
		t.Fatal(err)
	}
	defer term.Close()
	if r, err := term.Call("login", map[string]any{"kind": "terminal"}); err != nil || r.Exception() != "" {
		t.Fatalf("login: %v %s", err, r.Raw)
	}
	r, err := term.Call("getGoods", map[string]any{"code": "6921168509256"})
	if err != nil || r.Exception() != "" {
		t.Fatalf("getGoods: %v %s", err, r.Raw)
	}
}

func adminPut(t *testing.T, cloud *harness.Cloud, path, body string) {
	t.Helper()
	req, _ := http.NewRequest("PUT", cloud.URL+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer admin-e2e")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("PUT %s: %s %s", path, resp.Status, b)
	}
}

// fleetStore reads the store's row of the reference cloud's fleet view.
func fleetStore(t *testing.T, cloud *harness.Cloud) map[string]any {
	resp, err := http.Get(cloud.URL + "/fleet.json")
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	var v struct {
		Stores []map[string]any `json:"stores"`
	}
	json.NewDecoder(resp.Body).Decode(&v)
	for _, s := range v.Stores {
		if s["id"] == "test" {
			return s
		}
	}
	return nil
}

func hasAlert(s map[string]any, kind, subject string) bool {
	as, _ := s["alerts"].([]any)
	for _, a := range as {
		m, _ := a.(map[string]any)
		if m["kind"] == kind && m["subject"] == subject {
			return true
		}
	}
	return false
}

func waitFleet(t *testing.T, cloud *harness.Cloud, what string, within time.Duration, ok func(map[string]any) bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		if s := fleetStore(t, cloud); s != nil && ok(s) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("fleet page never showed %s within %s: %v", what, within, fleetStore(t, cloud))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// The reference cloud steers a real daemon: a door added remotely connects
// with its secret, a device approved remotely is admitted, a pending one
// shows as device_pending; every bad reply the cloud can give (unsigned,
// forged, stale, garbage, 10 MB, an older version, a hang) changes nothing,
// raises config_refused where UPSTREAM.md §7.2 says, and the store keeps selling; a
// restart with the cloud down keeps the remote configuration, and
// fleet.remote_config = false ignores it.
func TestFleetRemoteConfigWithTheReferenceCloud(t *testing.T) {
	cloud := harness.StartCloud(t, "--secret", fleetSecret, "--admin-token", "admin-e2e", "--health-interval", "2s")
	d := fleetDaemon(t, cloud.URL, "")
	d.Start()
	if err := doorConnects(d, "front", "s-front"); err == nil {
		t.Fatal("a door no configuration names connected")
	}

	adminPut(t, cloud, "/v1/admin/stores/test/config",
		`{"version": 1, "config": {"doors": [{"id": "front", "secret": "s-front", "policy": "entry"}], "devices": {"approve": ["T-07"]}}}`)
	waitConfig(t, d, "at version 1", func(c configStatus) bool { return c.Version == 1 && c.Source == "remote" && c.Refused == nil })
	if err := doorConnects(d, "front", "s-front"); err != nil {
		t.Fatalf("remotely added door: %v\n%s", err, d.Log())
	}
	if err := doorConnects(d, "front", "wrong"); err == nil {
		t.Fatal("the door connected with a wrong secret")
	}
	dev, _ := d.Dial("T-07")
	dev.Login(t, map[string]any{"kind": "terminal"}) // approved remotely before it ever came
	dev.Close()
	other, _ := d.Dial("T-08")
	if r, _ := other.Call("login", map[string]any{"kind": "terminal"}); r.Code() != devmsg.CodePendingApproval {
		t.Fatalf("unapproved device: %s", r.Raw)
	}
	other.Close()
	waitFleet(t, cloud, "device_pending T-08 and config version 1", 10*time.Second, func(s map[string]any) bool {
		cfg, _ := s["config"].(map[string]any)
		return hasAlert(s, "device_pending", "T-08") && cfg["version"] == float64(1) && cfg["source"] == "remote"
	})

	// A second version so that "older" has one to go back to.
	adminPut(t, cloud, "/v1/admin/stores/test/config",
		`{"version": 2, "config": {"doors": [{"id": "front", "secret": "s-front", "policy": "entry"}], "devices": {"approve": ["T-07", "T-08"]}}}`)
	waitConfig(t, d, "at version 2", func(c configStatus) bool { return c.Version == 2 })

	// Each fault of the reference cloud in turn. Older goes first, while the
	// cloud's previous document is version 1. The signature faults only
	// show on a new version (the applied one gets 304), so one is stored
	// while the fault is on; it keeps the door.
	const keepDoor = `"config": {"doors": [{"id": "front", "secret": "s-front", "policy": "entry"}], "devices": {"approve": ["T-07", "T-08"]}}`
	next := 3
	for _, f := range []struct{ mode, version, reason string }{
		{"older", "1", "version 1 is older than the applied version 2"},
		{"garbage", "", "document"},
		{"oversize", "", "over the 1048576-byte limit"},
		{"unsigned", "new", "unsigned reply"},
		{"forged", "new", "forged signature"},
		{"stale", "new", "stale signature"},
	} {
		adminPut(t, cloud, "/v1/admin/config-fault", `{"mode": "`+f.mode+`"}`)
		if f.version == "new" {
			f.version = fmt.Sprint(next)
			adminPut(t, cloud, "/v1/admin/stores/test/config", fmt.Sprintf(`{"version": %d, %s}`, next, keepDoor))
			next++
		}
		waitConfig(t, d, "refused ("+f.mode+")", refusedWith(f.version, f.reason))
		subject := f.version
		if subject == "" {
			subject = "document" // an unreadable document's fixed subject
		}
		waitFleet(t, cloud, "config_refused for "+f.mode, 10*time.Second, func(s map[string]any) bool { return hasAlert(s, "config_refused", subject) })
		if c, _ := statusConfig(t, d); c.Version != 2 {
			t.Fatalf("%s: running version changed to %d", f.mode, c.Version)
		}
		if err := doorConnects(d, "front", "s-front"); err != nil {
			t.Fatalf("%s: the door no longer connects: %v", f.mode, err)
		}
		sells(t, d)
	}

	adminPut(t, cloud, "/v1/admin/config-fault", `{"mode": "hang"}`)
	waitLog(t, d, "desired configuration not fetched")
	sells(t, d)
	adminPut(t, cloud, "/v1/admin/config-fault", `{"mode": ""}`)
	last := uint64(next - 1)
	waitConfig(t, d, "at the last stored version once the faults stop", func(c configStatus) bool { return c.Version == last && c.Refused == nil })
	waitFleet(t, cloud, "config_refused cleared", 10*time.Second, func(s map[string]any) bool {
		as, _ := s["alerts"].([]any)
		for _, a := range as {
			if m, _ := a.(map[string]any); m["kind"] == "config_refused" {
				return false
			}
		}
		return true
	})

	// Restart with the cloud down: the stored remote configuration runs.
	cloud.Stop()
	if err := d.Stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	d.Start()
	if c, _ := statusConfig(t, d); c.Source != "remote" || c.Version != last {
		t.Fatalf("after a restart offline: %+v, want version %d", c, last)
	}
	if err := doorConnects(d, "front", "s-front"); err != nil {
		t.Fatalf("after a restart offline the remote door is gone: %v", err)
	}
	sells(t, d)

	// fleet.remote_config = false: the local file alone.
	if err := d.Stop(); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(d.Config)
	os.WriteFile(d.Config, bytes.Replace(b, []byte("[fleet]\n"), []byte("[fleet]\nremote_config = false\n"), 1), 0o644)
	d.Start()
	if c, _ := statusConfig(t, d); c.Source != "file" || c.Version != 0 {
		t.Fatalf("remote_config = false: %+v", c)
	}
	if err := doorConnects(d, "front", "s-front"); err == nil {
		t.Fatal("remote_config = false: the remote door still connects")
	}
}

// signedCloud plays the cloud with documents the reference cloud would not
// accept from an admin: they reach the daemon signed, and the daemon's own
// check must refuse them.
type signedCloud struct {
	mu   sync.Mutex
	body string
}

func (c *signedCloud) serve(body string) { c.mu.Lock(); c.body = body; c.mu.Unlock() }

func (c *signedCloud) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == "PUT" && strings.HasSuffix(r.URL.Path, "/health"):
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(204)
	case r.Method == "GET" && strings.HasSuffix(r.URL.Path, "/config"):
		c.mu.Lock()
		body := c.body
		c.mu.Unlock()
		w.Header().Set(ledger.HeaderSignature, ledger.Sign(fleetSecret, time.Now(), []byte(body)))
		io.WriteString(w, body)
	default:
		http.NotFound(w, r)
	}
}

// A signed document with a restart-only key or a bad value changes
// nothing: no door of it connects, not even the good one before the bad.
func TestFleetSignedButWrongDocumentsChangeNothing(t *testing.T) {
	cloud := &signedCloud{}
	cloud.serve(`{"version": 1, "config": {"doors": [{"id": "front", "secret": "s-front", "policy": "entry"}]}}`)
	hs := httptest.NewServer(cloud)
	defer hs.Close()
	d := fleetDaemon(t, hs.URL, "")
	d.Start()
	waitConfig(t, d, "at version 1", func(c configStatus) bool { return c.Version == 1 })

	cloud.serve(`{"version": 2, "config": {"doors": [{"id": "side", "secret": "s-side", "policy": "entry"}], "devices": {"listen": ":9999"}}}`)
	waitConfig(t, d, "refused (restart-only key)", refusedWith("2", "devices.listen: cannot be set remotely: it needs a restart"))
	cloud.serve(`{"version": 3, "config": {"doors": [{"id": "side", "secret": "s-side", "policy": "entry"}, {"id": "back", "secret": "s-back", "policy": "sideways"}]}}`)
	waitConfig(t, d, "refused (bad value)", refusedWith("3", `doors[1].policy: "sideways" is not one of`))
	cloud.serve(`{"version": 4, "config": {"orders": {"payment_ttl": "10ms"}}}`)
	waitConfig(t, d, "refused (bad duration)", refusedWith("4", "orders.payment_ttl: must be at least 1s"))
	if err := doorConnects(d, "side", "s-side"); err == nil {
		t.Fatal("a door of a refused document connected")
	}
	if err := doorConnects(d, "front", "s-front"); err != nil {
		t.Fatalf("the applied door no longer connects: %v", err)
	}
	if c, _ := statusConfig(t, d); c.Version != 1 {
		t.Fatalf("running version %d", c.Version)
	}
	out, _ := d.Run("doctor")
	if !strings.Contains(out, "running remote configuration version 1") || !strings.Contains(out, "remote configuration version 4 refused") {
		t.Fatalf("doctor does not show the applied and the refused version:\n%s", out)
	}
	if !strings.Contains(out, "admin API") || !strings.Contains(out, "PUT /v1/admin/stores/test/config") || strings.Contains(out, "fleet console") {
		t.Fatalf("doctor must send the technician to the cloud's admin API, not the read-only fleet console:\n%s", out)
	}
	out, _ = d.Run("status")
	if !strings.Contains(out, "remote version 1, applied") || !strings.Contains(out, "remote version 4 at") {
		t.Fatalf("status does not show the applied and the refused version:\n%s", out)
	}
	sells(t, d)
	if n := strings.Count(d.Log(), "remote configuration refused;"); n != 3 {
		t.Fatalf("%d refusal log lines for 3 documents polled every second:\n%s", n, d.Log())
	}

	// Admission and the payment TTL change live too.
	cloud.serve(`{"version": 5, "config": {"devices": {"admission": "open"}, "orders": {"payment_ttl": "2m"}}}`)
	waitConfig(t, d, "at version 5", func(c configStatus) bool { return c.Version == 5 && c.Refused == nil })
	term, _ := d.Dial("T-NEW")
	defer term.Close()
	term.Login(t, map[string]any{"kind": "terminal"}) // admitted: admission is open now
	r, err := term.Call("getPayInfo", map[string]any{"order_id": "o-ttl", "lines": []any{map[string]any{"gid": "10001", "qty": 1}}, "pay_method": "cash"})
	if err != nil || r.Exception() != "" {
		t.Fatalf("getPayInfo: %v %s", err, r.Raw)
	}
	exp, err := time.Parse(time.RFC3339, r.Body["expires_at"].(string))
	if ttl := time.Until(exp); err != nil || ttl > 2*time.Minute || ttl < 90*time.Second {
		t.Fatalf("expires_at %v: the order waits %s, want the remote 2m", r.Body["expires_at"], ttl)
	}
}

// A refusal is over when the cloud is: config_refused clears at the next
// acceptable reply (here a 304 for the applied version), not only when a
// newer version is applied. The reference cloud faults this one store.
func TestFleetConfigRefusedClearsWhenTheStoreFaultEnds(t *testing.T) {
	cloud := harness.StartCloud(t, "--secret", fleetSecret, "--admin-token", "admin-e2e", "--health-interval", "2s")
	d := fleetDaemon(t, cloud.URL, "")
	d.Start()
	adminPut(t, cloud, "/v1/admin/stores/test/config", `{"version": 1, "config": {"devices": {"approve": ["T-07"]}}}`)
	waitConfig(t, d, "at version 1", func(c configStatus) bool { return c.Version == 1 && c.Refused == nil })

	adminPut(t, cloud, "/v1/admin/stores/test/config-fault", `{"mode": "garbage"}`)
	waitConfig(t, d, "refused (this store's garbage fault)", refusedWith("", "document"))
	waitFleet(t, cloud, "config_refused with subject document and the store's fault", 10*time.Second, func(s map[string]any) bool {
		return hasAlert(s, "config_refused", "document") && s["config_fault"] == "garbage"
	})

	adminPut(t, cloud, "/v1/admin/stores/test/config-fault", `{"mode": ""}`)
	waitConfig(t, d, "no longer refused once the cloud serves version 1 again", func(c configStatus) bool { return c.Version == 1 && c.Refused == nil })
	waitFleet(t, cloud, "config_refused cleared without a new version", 10*time.Second, func(s map[string]any) bool {
		as, _ := s["alerts"].([]any)
		for _, a := range as {
			if m, _ := a.(map[string]any); m["kind"] == "config_refused" {
				return false
			}
		}
		return s["config_fault"] == nil
	})
	waitLog(t, d, "remote configuration no longer refused")
}
