package fleet

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/storebox/storebox/protocol/fleetmsg"
	"github.com/storebox/storebox/sync/cloudref/fleetconsole"
	"github.com/storebox/storebox/test/testenv"
)

// Simulated stores say only what a real store would: a config_refused
// alert keeps its since while the refusal lasts (and clears when the cloud
// serves the applied version again), and queue_stale never stands beside
// an empty queue. Five stores flip an alert at every 100 ms tick with no
// events queued, so a random queue_stale would show within a second.
func TestSimulatedStoresTellTheTruth(t *testing.T) {
	cloud := startCloud(t, 100*time.Millisecond)
	startSimFleet(t, cloud.URL, "--stores", "5", "--interval", "100ms", "--config-interval", "100ms",
		"--event-interval", "0", "--alert-rate", "1")
	const id = "sim-0000"
	putDesired(t, cloud.URL, id, `{"version": 1, "config": {"devices": {"approve": ["T-1"]}}}`)
	store := func() fleetconsole.Store { s, _ := cloudStore(t, cloud.URL, id); return s }
	testenv.EventuallyWithin(t, 10*time.Second, "the simulated store applies version 1", func() bool { return store().Config.Version == 1 })

	admin(t, "PUT", cloud.URL+"/v1/admin/stores/"+id+"/config-fault", `{"mode": "garbage"}`)
	refused := func(s fleetconsole.Store) *fleetmsg.Alert {
		for _, a := range s.Alerts {
			if a.Kind == fleetmsg.AlertConfigRefused {
				return &a
			}
		}
		return nil
	}
	testenv.EventuallyWithin(t, 10*time.Second, "config_refused on "+id, func() bool { return refused(store()) != nil })
	first := *refused(store())
	if first.Subject != fleetmsg.SubjectUnreadableDocument {
		t.Errorf("an unreadable document's refusal has subject %q, want %q", first.Subject, fleetmsg.SubjectUnreadableDocument)
	}

	// Ten more health ticks of every store: the refusal's since stays, and
	// no store reports a stale queue with nothing queued.
	seen := map[time.Time]bool{}
	deadline := time.Now().Add(20 * time.Second)
	for len(seen) < 10 {
		if time.Now().After(deadline) {
			t.Fatalf("%d health snapshots of %s in 20 s, want 10 at a 100 ms interval", len(seen), id)
		}
		resp, err := http.Get(cloud.URL + "/fleet.json")
		if err != nil {
			t.Fatal(err)
		}
		var v fleetconsole.View
		err = json.NewDecoder(resp.Body).Decode(&v)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range v.Stores {
			for _, a := range s.Alerts {
				if a.Kind == fleetmsg.AlertQueueStale && s.Queue.Depth == 0 {
					t.Fatalf("%s reports queue_stale beside 0 queued: %+v", s.ID, a)
				}
			}
			if s.ID == id && s.At != nil {
				seen[*s.At] = true
				if rf := refused(s); rf == nil || !rf.Since.Equal(first.Since) {
					t.Fatalf("config_refused since moved from %s: %+v", first.Since, rf)
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}

	admin(t, "PUT", cloud.URL+"/v1/admin/stores/"+id+"/config-fault", `{"mode": ""}`)
	testenv.EventuallyWithin(t, 10*time.Second, "config_refused cleared once the cloud serves version 1 again", func() bool {
		s := store()
		return refused(s) == nil && s.Config.Error == ""
	})
}

// admin sends one request to the cloud's admin API; anything but 200 fails t.
func admin(t testing.TB, method, url, body string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("%s %s: %s", method, url, resp.Status)
	}
}
