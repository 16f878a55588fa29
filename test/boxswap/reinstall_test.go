package boxswap

import (
	"strings"
	"testing"
	"time"

	"github.com/storebox/storebox/test/harness"
	"github.com/storebox/storebox/test/testenv"
)

// A store's box dies; a fresh install with the same store_id and an empty
// data directory takes over. It sells before it reaches the cloud (the
// cloud is down at first), then numbers its queue above the old box's
// ledger: the cloud holds every sale of both once, seq strictly rising,
// and the new box says so (log, ledger_rebased in fleet health).
func TestFreshReinstallForAnExistingStore(t *testing.T) {
	cloudDir := t.TempDir()
	cloud := harness.StartCloud(t, "--secret", "s3", "--data", cloudDir)
	oldBox := harness.New(t, upstreamConfig(cloud.URL))
	prepare(t, oldBox)
	oldBox.Start()
	paid := sell(t, oldBox, "T-1", "old", 5)
	testenv.EventuallyWithin(t, time.Minute, "the old box's queue drained", func() bool { return queueDepth(t, oldBox) == 0 })
	oldBox.Kill()
	lastOld := cloudLedger(t, cloudDir, "test")
	oldLast := lastOld[len(lastOld)-1].Seq

	// The new box starts while the cloud is away: it sells, and sends
	// nothing until it knows where the store's ledger stands.
	cloud.Stop()
	cloud2 := harness.StartCloud(t, "--secret", "s3", "--data", cloudDir, "--down-for", "3s")
	newBox := harness.New(t, upstreamConfig(cloud2.URL))
	prepare(t, newBox)
	newBox.Start()
	paid = append(paid, sell(t, newBox, "T-1", "new", 3)...)
	testenv.EventuallyWithin(t, time.Minute, "the new box's queue drained", func() bool { return queueDepth(t, newBox) == 0 })

	evs := cloudLedger(t, cloudDir, "test")
	checkWhole(t, evs, paid)
	if f := cloudFaults(t, cloud2); f != 0 {
		t.Errorf("the cloud counts %v seq faults", f)
	}
	if first := evs[len(lastOld)].Seq; first != oldLast+1 {
		t.Errorf("the new box's first event has seq %d, want %d", first, oldLast+1)
	}
	if log := newBox.Log(); !strings.Contains(log, "ledger rebased") {
		t.Errorf("no \"ledger rebased\" in the new box's log")
	}
	want := `"ledger_rebased"`
	testenv.EventuallyWithin(t, 30*time.Second, "ledger_rebased in the cloud's fleet view", func() bool {
		return strings.Contains(fleetJSON(t, cloud2), want)
	})
}
