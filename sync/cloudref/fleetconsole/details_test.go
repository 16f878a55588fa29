package fleetconsole

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/storebox/storebox/protocol/fleetmsg"
)

func getDetails(t *testing.T, base, store string) (int, Details, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/stores/"+store+"/details", nil)
	resp, b := do(t, req)
	var d Details
	json.Unmarshal(b, &d)
	return resp.StatusCode, d, string(b)
}

// The details view's history: alerts raised and cleared, a store's refusal
// recorded once while it lasts (and again when it comes back), the cloud's
// own refusals, the applied document found among the accepted ones, and no
// door secret in the open.
func TestDetailsKeepHistory(t *testing.T) {
	_, base := newFleetCloud(t, Config{}, nil)
	now := time.Now().UTC().Truncate(time.Second)
	pending := fleetmsg.Alert{Kind: fleetmsg.AlertDevicePending, Subject: "T-1", Since: now, Message: "waits"}
	scale := fleetmsg.Alert{Kind: fleetmsg.AlertScaleFault, Subject: "S1", Since: now, Message: "no frames"}
	refused := fleetmsg.Alert{Kind: fleetmsg.AlertConfigRefused, Subject: "4", Since: now, Message: "refused"}
	put := func(h fleetmsg.Health) {
		t.Helper()
		h.At, h.Store = time.Now().UTC(), "s1"
		if resp, b := putHealthReq(t, base, "s1", h); resp.StatusCode != http.StatusNoContent {
			t.Fatalf("PUT health: %d %s", resp.StatusCode, b)
		}
	}
	if resp, m := adminPut(t, base, "s1", testAdmin, `{"version": 1, "config": {"doors": [{"id": "D1", "secret": "door-sekret-1", "policy": "entry"}]}}`); resp.StatusCode != 200 {
		t.Fatalf("v1: %d %v", resp.StatusCode, m)
	}
	if resp, m := adminPut(t, base, "s1", testAdmin, `{"version": 2, "config": {"doors": [{"id": "D1", "secret": "door-sekret-2", "policy": "exit"}]}}`); resp.StatusCode != 200 {
		t.Fatalf("v2: %d %v", resp.StatusCode, m)
	}
	if resp, _ := adminPut(t, base, "s1", testAdmin, `{"version": 2, "config": {}}`); resp.StatusCode != http.StatusConflict {
		t.Fatalf("v2 again: %d", resp.StatusCode)
	}
	if resp, _ := adminPut(t, base, "nobody", testAdmin, `{"version": 1, "config": {"doors": 7}}`); resp.StatusCode != 400 {
		t.Fatalf("bad document for an unknown store: %d", resp.StatusCode)
	}
	applied := fleetmsg.ConfigStatus{Version: 1, Source: fleetmsg.SourceRemote}
	put(fleetmsg.Health{Config: applied, Alerts: []fleetmsg.Alert{pending}})
	put(fleetmsg.Health{Config: applied, Alerts: []fleetmsg.Alert{pending, scale}})
	bad := applied
	bad.Error = "doors[0].secret: must not be empty"
	put(fleetmsg.Health{Config: bad, Alerts: []fleetmsg.Alert{scale, refused}})
	put(fleetmsg.Health{Config: bad, Alerts: []fleetmsg.Alert{scale, refused}})
	put(fleetmsg.Health{Config: applied, Alerts: []fleetmsg.Alert{scale}})
	put(fleetmsg.Health{Config: bad, Alerts: []fleetmsg.Alert{scale, refused}})

	code, d, raw := getDetails(t, base, "s1")
	if code != 200 {
		t.Fatalf("details: %d %s", code, raw)
	}
	var events []string
	for _, e := range d.AlertEvents {
		events = append(events, e.Change+" "+e.Kind+" "+e.Subject)
	}
	want := []string{"raised config_refused 4", "cleared config_refused 4", "raised config_refused 4", "cleared device_pending T-1", "raised scale_fault S1", "raised device_pending T-1"}
	if strings.Join(events, ", ") != strings.Join(want, ", ") {
		t.Errorf("alert events, newest first:\n got %v\nwant %v", events, want)
	}
	var refusals []string
	for _, r := range d.Refusals {
		refusals = append(refusals, r.By+" "+r.Version)
	}
	if want := []string{"store 4", "store 4", "cloud 2"}; strings.Join(refusals, ", ") != strings.Join(want, ", ") {
		t.Errorf("refusals, newest first: got %v, want %v", refusals, want)
	}
	if d.Health == nil || d.Health.Config.Error != bad.Error || d.ReceivedAt == nil {
		t.Errorf("latest health not in full: %+v", d.Health)
	}
	if d.Applied == nil || d.Applied.Version != 1 || d.Desired == nil || d.Desired.Version != 2 {
		t.Fatalf("applied %+v, desired %+v: want v1 and v2", d.Applied, d.Desired)
	}
	if !strings.Contains(string(d.Applied.Config), `"entry"`) || !strings.Contains(string(d.Desired.Config), `"exit"`) {
		t.Errorf("documents: applied %s, desired %s", d.Applied.Config, d.Desired.Config)
	}
	if strings.Contains(raw, "door-sekret") {
		t.Errorf("details show a door secret: %s", raw)
	}
	if code, _, _ := getDetails(t, base, "nobody"); code != 404 {
		t.Errorf("details of a store the cloud does not know: %d", code)
	}
}

// The history stays bounded however long a store flaps.
func TestDetailsHistoryIsBounded(t *testing.T) {
	_, base := newFleetCloud(t, Config{}, nil)
	for i := range 40 {
		h := fleetmsg.Health{At: time.Now().UTC(), Store: "s1", Config: fleetmsg.ConfigStatus{Error: fmt.Sprintf("refusal %d", i)},
			Alerts: []fleetmsg.Alert{{Kind: fleetmsg.AlertScaleFault, Subject: fmt.Sprint(i), Since: time.Now().UTC()}}}
		if resp, b := putHealthReq(t, base, "s1", h); resp.StatusCode != http.StatusNoContent {
			t.Fatalf("PUT health: %d %s", resp.StatusCode, b)
		}
	}
	for v := 1; v <= 12; v++ {
		adminPut(t, base, "s1", testAdmin, fmt.Sprintf(`{"version": %d, "config": {}}`, v))
	}
	_, d, _ := getDetails(t, base, "s1")
	if len(d.Refusals) != maxRefusals || d.Refusals[0].Reason != "refusal 39" {
		t.Errorf("%d refusals, newest %+v", len(d.Refusals), d.Refusals[0])
	}
	if len(d.AlertEvents) != maxAlertEvents || d.AlertEvents[0].Subject != "39" {
		t.Errorf("%d alert events, newest %+v", len(d.AlertEvents), d.AlertEvents[0])
	}
}

// The admin session check answers only the admin token.
func TestAdminSession(t *testing.T) {
	_, base := newFleetCloud(t, Config{}, nil)
	for token, want := range map[string]int{testAdmin: 200, "guess": 401, "": 401} {
		req, _ := http.NewRequest("GET", base+"/v1/admin/session", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		if resp, _ := do(t, req); resp.StatusCode != want {
			t.Errorf("token %q: %d, want %d", token, resp.StatusCode, want)
		}
	}
}

// After a restart the details still find the applied document among the
// older ones and keep the refusals; the alert history starts again.
func TestDetailsAfterARestart(t *testing.T) {
	dir := t.TempDir()
	s, base := newFleetCloud(t, Config{DataDir: dir}, nil)
	for v := 1; v <= 3; v++ {
		if resp, m := adminPut(t, base, "s1", testAdmin, fmt.Sprintf(`{"version": %d, "config": {"orders": {"payment_ttl": "%dm"}}}`, v, v)); resp.StatusCode != 200 {
			t.Fatal(resp.StatusCode, m)
		}
	}
	putHealthReq(t, base, "s1", fleetmsg.Health{At: time.Now().UTC(), Store: "s1",
		Config: fleetmsg.ConfigStatus{Version: 2, Source: fleetmsg.SourceRemote, Error: "refused v3"},
		Alerts: []fleetmsg.Alert{{Kind: fleetmsg.AlertConfigRefused, Subject: "3", Since: time.Now().UTC()}}})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	_, base2 := newFleetCloud(t, Config{DataDir: dir}, nil)
	_, d, raw := getDetails(t, base2, "s1")
	if d.Applied == nil || d.Applied.Version != 2 || !strings.Contains(string(d.Applied.Config), `"2m"`) {
		t.Errorf("applied document after a restart: %s", raw)
	}
	if len(d.Refusals) != 1 || d.Refusals[0].Version != "3" || len(d.AlertEvents) != 0 {
		t.Errorf("refusals %+v, alert events %+v after a restart", d.Refusals, d.AlertEvents)
	}
}
