package fleetsim

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/storebox/storebox/protocol/fleetmsg"
	"github.com/storebox/storebox/sync/cloudref"
	"github.com/storebox/storebox/sync/cloudref/fleetconsole"
	"github.com/storebox/storebox/test/testenv"
)

func adminPut(t *testing.T, base, path, body string) {
	t.Helper()
	req, _ := http.NewRequest("PUT", base+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer adm")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("PUT %s: %d", path, resp.StatusCode)
	}
}

func storeView(c *cloudref.Server, id string) (fleetconsole.Store, bool) {
	for _, s := range c.Fleet(0).Stores {
		if s.ID == id {
			return s, true
		}
	}
	return fleetconsole.Store{}, false
}

func TestSimulatedStoresReportPollAndSend(t *testing.T) {
	cloud, err := cloudref.New(cloudref.Options{Secret: "k", AdminToken: "adm", HealthInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer cloud.Close()
	hs := httptest.NewServer(cloud.Handler())
	defer hs.Close()

	sim, err := New(Options{Cloud: hs.URL, Secret: "k", Stores: 20, HealthInterval: 100 * time.Millisecond,
		EventInterval: 100 * time.Millisecond, AlertRate: 0.2, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sim.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()

	testenv.Eventually(t, "20 stores on the cloud", func() bool { return len(cloud.Fleet(0).Stores) == 20 })
	adminPut(t, hs.URL, "/v1/admin/stores/sim-0001/config", `{"version": 5, "config": {"devices": {"admission": "open"}}}`)
	testenv.Eventually(t, "sim-0001 to report version 5 applied", func() bool {
		s, _ := storeView(cloud, "sim-0001")
		return s.Config.Version == 5 && s.Config.Source == fleetmsg.SourceRemote
	})

	// A forged reply is refused and reported, and nothing is applied.
	adminPut(t, hs.URL, "/v1/admin/config-fault", `{"mode": "forged"}`)
	adminPut(t, hs.URL, "/v1/admin/stores/sim-0001/config", `{"version": 6, "config": {"devices": {"admission": "pairing"}}}`)
	testenv.Eventually(t, "sim-0001 to report the refusal", func() bool {
		s, _ := storeView(cloud, "sim-0001")
		for _, a := range s.Alerts {
			if a.Kind == fleetmsg.AlertConfigRefused && strings.Contains(a.Message, "signature") {
				return s.Config.Version == 5
			}
		}
		return false
	})
	testenv.Eventually(t, "events acknowledged and alerts raised", func() bool {
		st := sim.Stats()
		return st.EventsAcked > 20 && st.HealthOK > 60
	})
	st := sim.Stats()
	if st.HealthFailed != 0 || st.HealthP99MS <= 0 || st.HealthPerSec <= 0 || st.ConfigApplied != 1 || st.ConfigRefused == 0 {
		t.Fatalf("stats: %+v", st)
	}
	if cs := cloud.Stats(); cs.Events < st.EventsAcked {
		t.Fatalf("cloud holds %d events, the stores saw %d acknowledged", cs.Events, st.EventsAcked)
	}
	t.Log(st)
}

func TestOptionsChecked(t *testing.T) {
	for _, o := range []Options{
		{Cloud: "localhost:1", Secret: "k", Stores: 1},
		{Cloud: "http://x", Stores: 1},
		{Cloud: "http://x", Secret: "k"},
	} {
		if _, err := New(o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
}
