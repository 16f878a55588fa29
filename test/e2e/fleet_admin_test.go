package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/storebox/storebox/test/harness"
)

// adminDo sends an admin request to the reference cloud and returns the
// status and the decoded JSON reply.
func adminDo(t *testing.T, cloud *harness.Cloud, method, path, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, cloud.URL+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer admin-e2e")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s %s: %s %s", method, path, resp.Status, b)
	}
	return resp.StatusCode, m
}

func strs(v any) []string {
	var out []string
	l, _ := v.([]any)
	for _, x := range l {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

// appliedLine is the daemon's last "remote configuration applied" log line.
func appliedLine(d *harness.Daemon) string {
	last := ""
	for _, l := range strings.Split(d.Log(), "\n") {
		if strings.Contains(l, "remote configuration applied") {
			last = l
		}
	}
	return last
}

// A restarted reference cloud without --data has forgotten every document,
// but not what the store told it: a version the store would refuse as
// older is answered 409 with the version to use, and the next one applies.
func TestFleetCloudRestartedWithoutDataRefusesOlderVersions(t *testing.T) {
	cloud := harness.StartCloud(t, "--secret", fleetSecret, "--admin-token", "admin-e2e", "--health-interval", "2s")
	d := fleetDaemon(t, cloud.URL, "")
	d.Start()
	adminPut(t, cloud, "/v1/admin/stores/test/config", `{"version": 3, "config": {"devices": {"approve": ["T-07"]}}}`)
	waitConfig(t, d, "at version 3", func(c configStatus) bool { return c.Version == 3 })

	addr := strings.TrimPrefix(cloud.URL, "http://")
	cloud.Stop()
	cloud = harness.StartCloud(t, "--secret", fleetSecret, "--admin-token", "admin-e2e", "--health-interval", "2s", "--listen", addr)
	// Before the store says anything, the cloud cannot know: the reply
	// says so. (Its next config poll, If-None-Match "3", or its health tells.)
	waitFleet(t, cloud, "the store on the restarted cloud", 15*time.Second, func(map[string]any) bool { return true })
	code, m := adminDo(t, cloud, "PUT", "/v1/admin/stores/test/config", `{"version": 1, "config": {"devices": {"approve": ["T-08"]}}}`)
	if detail, _ := m["detail"].(string); code != 409 || m["key"] != "version" || !strings.Contains(detail, "which store test runs") || !strings.Contains(detail, "use 4 or above") {
		t.Fatalf("version 1 below the store's 3: %d %v", code, m)
	}
	code, m = adminDo(t, cloud, "PUT", "/v1/admin/stores/test/config", `{"version": 4, "config": {"devices": {"approve": ["T-08"]}}}`)
	if code != 200 || m["store_applied"] != float64(3) {
		t.Fatalf("version 4: %d %v", code, m)
	}
	waitConfig(t, d, "at version 4", func(c configStatus) bool { return c.Version == 4 && c.Refused == nil })
}

// A document's sections replace the file's as a whole; the cloud's reply
// and the store's log say what that replaces and removes, and a PATCH adds
// or removes one door without restating the others.
func TestFleetDocumentSaysWhatItReplacesAndPatchEditsDoors(t *testing.T) {
	cloud := harness.StartCloud(t, "--secret", fleetSecret, "--admin-token", "admin-e2e", "--health-interval", "2s")
	d := fleetDaemon(t, cloud.URL, "[[doors]]\nid = \"back\"\nsecret = \"s-back\"\npolicy = \"exit\"\n")
	d.Start()
	waitFleet(t, cloud, "the store's health with its file door", 15*time.Second, func(s map[string]any) bool {
		_, ok := s["received_at"]
		return ok
	})

	// The file's doors are not the cloud's to edit one by one.
	code, m := adminDo(t, cloud, "PATCH", "/v1/admin/stores/test/config", `{"doors": {"add": [{"id": "side", "secret": "s-side", "policy": "entry"}]}}`)
	if code != 409 || m["error"] != "doors_from_file" || !strings.Contains(m["detail"].(string), "back") {
		t.Fatalf("PATCH over the file's doors: %d %v", code, m)
	}

	code, m = adminDo(t, cloud, "PUT", "/v1/admin/stores/test/config", `{"version": 1, "config": {"doors": [{"id": "front", "secret": "s-front", "policy": "entry"}]}}`)
	if code != 200 || strings.Join(strs(m["replaces"]), ",") != "doors" || strings.Join(strs(m["removes"]), ",") != "door back" ||
		!strings.Contains(strings.Join(strs(m["leaves_to_file"]), ","), "devices.admission") {
		t.Fatalf("version 1 reply does not say it replaces doors and removes door back: %d %v", code, m)
	}
	waitConfig(t, d, "at version 1", func(c configStatus) bool { return c.Version == 1 })
	if l := appliedLine(d); !strings.Contains(l, "replaces=[doors]") || !strings.Contains(l, `removes="[door back]"`) {
		t.Fatalf("the store's log does not say what version 1 removes: %s", l)
	}

	// One door added: the others stay, secrets and all.
	code, m = adminDo(t, cloud, "PATCH", "/v1/admin/stores/test/config", `{"doors": {"add": [{"id": "side", "secret": "s-side", "policy": "entry"}]}}`)
	if code != 200 || m["version"] != float64(2) || len(strs(m["removes"])) != 0 {
		t.Fatalf("PATCH add: %d %v", code, m)
	}
	waitConfig(t, d, "at version 2", func(c configStatus) bool { return c.Version == 2 })
	for _, door := range []struct{ id, secret string }{{"front", "s-front"}, {"side", "s-side"}} {
		if err := doorConnects(d, door.id, door.secret); err != nil {
			t.Fatalf("door %s after the PATCH: %v", door.id, err)
		}
	}
	// One removed.
	code, m = adminDo(t, cloud, "PATCH", "/v1/admin/stores/test/config", `{"doors": {"remove": ["front"]}}`)
	if code != 200 || m["version"] != float64(3) || strings.Join(strs(m["removes"]), ",") != "door front" {
		t.Fatalf("PATCH remove: %d %v", code, m)
	}
	waitConfig(t, d, "at version 3", func(c configStatus) bool { return c.Version == 3 })
	if err := doorConnects(d, "front", "s-front"); err == nil {
		t.Fatal("a removed door still connects")
	}
	if code, m = adminDo(t, cloud, "PATCH", "/v1/admin/stores/test/config", `{"doors": {"remove": ["nope"]}}`); code != 400 || !strings.Contains(m["detail"].(string), `no door "nope"`) {
		t.Fatalf("PATCH removing an unknown door: %d %v", code, m)
	}

	// A document without doors: the file's doors come back, and both the
	// reply and the log say which go.
	code, m = adminDo(t, cloud, "PUT", "/v1/admin/stores/test/config", `{"version": 4, "config": {"devices": {"admission": "pairing"}}}`)
	if code != 200 || !strings.Contains(strings.Join(strs(m["notes"]), " "), "left out, so the store's file's doors apply again") ||
		!strings.Contains(strings.Join(strs(m["removes"]), ","), "door side") {
		t.Fatalf("version 4 (no doors) reply: %d %v", code, m)
	}
	waitConfig(t, d, "at version 4", func(c configStatus) bool { return c.Version == 4 })
	if l := appliedLine(d); !strings.Contains(l, `removes="[door side]"`) || !strings.Contains(l, "doors") {
		t.Fatalf("the store's log does not say version 4 removes door side: %s", l)
	}
	if err := doorConnects(d, "back", "s-back"); err != nil {
		t.Fatalf("the file's door is not back: %v", err)
	}
}

// Issue 22 item 6: `sim door` finds a door only the applied remote
// document has, as the daemon does, and says when it reconnected (here
// after the next document changed the door, which the daemon answers by
// disconnecting it).
func TestSimDoorTakesARemoteOnlyDoorAndSaysItReconnected(t *testing.T) {
	cloud := harness.StartCloud(t, "--secret", fleetSecret, "--admin-token", "admin-e2e", "--health-interval", "2s")
	d := fleetDaemon(t, cloud.URL, "")
	d.Start()
	adminPut(t, cloud, "/v1/admin/stores/test/config", `{"version": 1, "config": {"doors": [{"id": "side", "secret": "s-side", "policy": "entry"}]}}`)
	waitConfig(t, d, "at version 1", func(c configStatus) bool { return c.Version == 1 })

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sim := exec.CommandContext(ctx, d.Bin, "sim", "door", "--id", "side", "--config", d.Config)
	stdout, _ := sim.StdoutPipe()
	var stderr strings.Builder
	sim.Stderr = &stderr
	sim.Stdin = strings.NewReader("")
	if err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); sim.Wait() }()
	lines := linesOf(stdout)
	next := func(what string) string {
		t.Helper()
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("sim door ended before %s: %s", what, stderr.String())
			}
			return l
		case <-time.After(20 * time.Second):
			t.Fatalf("sim door printed no line for %s", what)
		}
		return ""
	}
	if l := next("connected"); !strings.Contains(l, "door side connected to "+d.MQTTAddr) {
		t.Fatalf("sim door of a remote-only door: %q %s", l, stderr.String())
	}

	adminPut(t, cloud, "/v1/admin/stores/test/config", `{"version": 2, "config": {"doors": [{"id": "side", "secret": "s-side", "policy": "exit"}]}}`)
	if l := next("connection lost"); !strings.Contains(l, "door side lost its connection") {
		t.Fatalf("after the door changed: %q", l)
	}
	if l := next("reconnected"); !strings.Contains(l, "door side reconnected to "+d.MQTTAddr) {
		t.Fatalf("after the door changed: %q", l)
	}
}
