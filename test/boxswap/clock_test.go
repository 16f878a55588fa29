package boxswap

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/storebox/storebox/daemon/backup"
	"github.com/storebox/storebox/daemon/readyfile"
	"github.com/storebox/storebox/daemon/store"
	"github.com/storebox/storebox/test/harness"
	"github.com/storebox/storebox/test/testenv"
)

// The cloud's clock is an hour ahead of the box's (the box lost its time):
// signatures an hour old are refused, so before the clock rule of docs/UPSTREAM.md §2
// nothing ever synced. Now the box signs with the cloud's time from the
// refusal's Date: its sales reach the cloud, its health goes through with
// clock_skew "-3600", a signed desired configuration is not refused as
// stale, and doctor says to set the clock.
func TestCloudClockAnHourAhead(t *testing.T) {
	cloudDir := t.TempDir()
	cloud := harness.StartCloud(t, "--secret", "s3", "--data", cloudDir, "--clock-offset", "1h", "--admin-token", "adm")
	d := harness.New(t, upstreamConfig(cloud.URL)+"config_interval = \"1s\"\n")
	prepare(t, d)
	d.Start()
	paid := sell(t, d, "T-1", "skew", 3)
	testenv.EventuallyWithin(t, time.Minute, "the queue drained", func() bool { return queueDepth(t, d) == 0 })
	checkWhole(t, cloudLedger(t, cloudDir, "test"), paid)

	testenv.EventuallyWithin(t, 30*time.Second, "clock_skew -3600 in the cloud's view of the store", func() bool {
		h := fleetJSON(t, cloud)
		return strings.Contains(h, `"clock_skew"`) && strings.Contains(h, `"-3600"`)
	})

	// The snapshot's times are on the cloud's clock (UPSTREAM.md §7.1):
	// at within seconds of when the cloud received it, clock_skew's since
	// not an hour before.
	var got struct {
		ReceivedAt time.Time `json:"received_at"`
		Health     struct {
			At     time.Time `json:"at"`
			Alerts []struct {
				Kind  string    `json:"kind"`
				Since time.Time `json:"since"`
			} `json:"alerts"`
		} `json:"health"`
	}
	if err := json.Unmarshal([]byte(fleetJSON(t, cloud)), &got); err != nil {
		t.Fatal(err)
	}
	if d := got.ReceivedAt.Sub(got.Health.At); d < -5*time.Second || d > 5*time.Second {
		t.Errorf("health at %v, received at %v (cloud's clock): %s apart", got.Health.At, got.ReceivedAt, d)
	}
	for _, a := range got.Health.Alerts {
		if d := got.ReceivedAt.Sub(a.Since); a.Kind == "clock_skew" && (d < -5*time.Second || d > 2*time.Minute) {
			t.Errorf("clock_skew since %v, received at %v (cloud's clock)", a.Since, got.ReceivedAt)
		}
	}

	req, _ := http.NewRequest(http.MethodPut, cloud.URL+"/v1/admin/stores/test/config", strings.NewReader(`{"version": 2, "config": {"orders": {"payment_ttl": "7m"}}}`))
	req.Header.Set("Authorization", "Bearer adm")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode/100 != 2 {
		t.Fatalf("put desired config: %v %v", err, resp)
	}
	resp.Body.Close()
	testenv.EventuallyWithin(t, 30*time.Second, "desired configuration 2 applied", func() bool {
		v, refused := appliedConfig(t, d)
		if refused != "" {
			t.Fatalf("desired configuration refused: %s", refused)
		}
		return v == 2
	})

	// Every file the daemon keeps in its data directory travels in a
	// backup (or is the running process's own).
	entries, err := os.ReadDir(d.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if n := e.Name(); n != store.FileName && n != readyfile.Name && !slices.Contains(backup.StateFiles, n) {
			t.Errorf("%s in the data directory is not in a backup (daemon/backup.StateFiles)", n)
		}
	}
	if out, err := d.Run("sync", "status"); err != nil || !strings.Contains(out, "clock:         this box's clock is 1h0m0s behind the cloud's: signing with the cloud's time") {
		t.Errorf("sync status (%v):\n%s", err, out)
	}
	out, _ := d.Run("doctor")
	if !strings.Contains(out, "1h0m0s behind the cloud's") || !strings.Contains(out, "timedatectl set-ntp true") {
		t.Errorf("doctor does not say the clock is an hour behind:\n%s", out)
	}
}

// appliedConfig is the running daemon's applied configuration version and
// the last refusal's reason.
func appliedConfig(t *testing.T, d *harness.Daemon) (uint64, string) {
	resp, err := d.Get("/api/v1/status")
	if err != nil {
		return 0, ""
	}
	defer resp.Body.Close()
	var st struct {
		Config struct {
			Version uint64 `json:"version"`
			Refused *struct {
				Reason string `json:"reason"`
			} `json:"refused"`
		} `json:"config"`
	}
	if json.NewDecoder(resp.Body).Decode(&st) != nil {
		return 0, ""
	}
	if st.Config.Refused != nil {
		return st.Config.Version, fmt.Sprint(st.Config.Refused.Reason)
	}
	return st.Config.Version, ""
}

// A box whose clock is before the binary was made (a dead CMOS battery,
// no NTP) says so at start, and doctor fails its clock check. The box's
// clock cannot be turned back in a test, so the binary is stamped as
// made in 2099 instead.
func TestClockBeforeTheBuildSaidAtStart(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "storebox")
	build := exec.Command("go", "build", "-ldflags", "-X main.buildTime=2099-01-01T00:00:00Z", "-o", bin, "./cmd/storebox")
	build.Dir = harness.ModuleRoot()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	d := harness.New(t, "")
	d.Bin = bin
	d.Start()
	if log := d.Log(); !strings.Contains(log, "before this storebox was made (2099-01-01T00:00:00Z)") || !strings.Contains(log, "level=ERROR") {
		t.Errorf("no clock error at start:\n%s", log)
	}
	out, err := d.Run("doctor")
	if err == nil || !strings.Contains(out, "clock") || !strings.Contains(out, "before this storebox was made (2099-01-01)") {
		t.Errorf("doctor (%v):\n%s", err, out)
	}
}
