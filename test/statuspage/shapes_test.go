package statuspage

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/storebox/storebox/test/harness"
)

// getJSON reads a local API endpoint with the admin token.
func getJSON(t *testing.T, d *harness.Daemon, path string) (string, map[string]any) {
	t.Helper()
	resp, err := d.Get(path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s %s", path, resp.Status, b)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("GET %s: %v\n%s", path, err, b)
	}
	return string(b), m
}

// The API keeps one shape: /api/v1/sync has the same members with and
// without an upstream, and a time that never happened is null, never
// 0001-01-01T00:00:00Z.
func TestAPIShapes(t *testing.T) {
	const door = "[[doors]]\nid = \"D-NEVER\"\nsecret = \"s\"\npolicy = \"entry\"\n"
	plain := harness.New(t, door)
	plain.Start()
	withUp := harness.New(t, "[upstream]\nurl = \"http://127.0.0.1:1\"\nsecret = \"k\"\n")
	withUp.Start()

	// A device approved before it was ever seen.
	req, _ := http.NewRequest("POST", "http://"+plain.HTTPAddr+"/api/v1/devices/T-NEVER/approve", nil)
	req.Header.Set("Authorization", "Bearer "+plain.AdminToken())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	for _, d := range []*harness.Daemon{plain, withUp} {
		for _, p := range []string{"/api/v1/status", "/api/v1/sync", "/api/v1/devices", "/api/v1/orders"} {
			if body, _ := getJSON(t, d, p); strings.Contains(body, "0001-01-01") {
				t.Errorf("GET %s writes a zero time:\n%s", p, body)
			}
		}
	}
	_, off := getJSON(t, plain, "/api/v1/sync")
	_, on := getJSON(t, withUp, "/api/v1/sync")
	if k1, k2 := slices.Sorted(maps.Keys(off)), slices.Sorted(maps.Keys(on)); !slices.Equal(k1, k2) {
		t.Errorf("/api/v1/sync changes shape with an upstream:\nwithout %v\nwith    %v", k1, k2)
	}
	if off["upstream_configured"] != false || on["upstream_configured"] != true || off["last_success"] != nil {
		t.Errorf("sync: without %v, with %v", off, on)
	}
	_, st := getJSON(t, plain, "/api/v1/status")
	if q := st["queue"].(map[string]any); !slices.Equal(slices.Sorted(maps.Keys(q)), slices.Sorted(maps.Keys(off))) {
		t.Errorf("status queue and /api/v1/sync differ: %v vs %v", q, off)
	}
	doors := st["doors"].([]any)
	if len(doors) != 1 || doors[0].(map[string]any)["lastSeen"] != nil || doors[0].(map[string]any)["stateAt"] != nil {
		t.Errorf("a door that never connected: %v", doors)
	}
	_, devs := getJSON(t, plain, "/api/v1/devices")
	found := false
	for _, v := range devs["devices"].([]any) {
		dev := v.(map[string]any)
		if dev["equipId"] == "T-NEVER" {
			found = true
			if v, ok := dev["last_seen"]; !ok || v != nil {
				t.Errorf("a never-seen device's last_seen: %v (present %v)", v, ok)
			}
		}
	}
	if !found {
		t.Errorf("approved device not listed: %v", devs)
	}
}

// GET /api/v1/devices/known lists approved devices that are offline first
// (most recently seen first, never seen last), then online ones, then
// rejected ones, capped by limit with the total.
func TestKnownDevicesAPI(t *testing.T) {
	d := harness.New(t, "")
	d.Start()
	online, err := d.Dial("T-ON")
	if err != nil {
		t.Fatal(err)
	}
	defer online.Close()
	online.Login(t, map[string]any{"kind": "terminal"})
	gone, err := d.Dial("T-GONE")
	if err != nil {
		t.Fatal(err)
	}
	gone.Login(t, map[string]any{"kind": "scale"})
	gone.Close()
	for id, verb := range map[string]string{"T-NEVER": "approve", "T-BAD": "reject"} {
		req, _ := http.NewRequest("POST", "http://"+d.HTTPAddr+"/api/v1/devices/"+id+"/"+verb, nil)
		req.Header.Set("Authorization", "Bearer "+d.AdminToken())
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	var order []string
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, m := getJSON(t, d, "/api/v1/devices/known")
		order = order[:0]
		for _, v := range m["devices"].([]any) {
			dev := v.(map[string]any)
			order = append(order, fmt.Sprintf("%s:%s:%v", dev["equipId"], dev["status"], dev["online"]))
		}
		want := []string{"T-GONE:approved:false", "T-NEVER:approved:false", "T-ON:approved:true", "T-BAD:rejected:false"}
		if slices.Equal(order, want) && m["total"] == 4.0 {
			break
		}
		if time.Now().After(deadline) { // the closed session may take a moment to end
			t.Fatalf("known devices: %v total %v, want %v", order, m["total"], want)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, m := getJSON(t, d, "/api/v1/devices/known?limit=2"); len(m["devices"].([]any)) != 2 || m["total"] != 4.0 {
		t.Errorf("limit=2: %v", m)
	}
}
