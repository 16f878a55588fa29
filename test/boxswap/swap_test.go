package boxswap

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/storebox/storebox/daemon/store"
	"github.com/storebox/storebox/daemon/store/storetest"
	"github.com/storebox/storebox/test/harness"
	"github.com/storebox/storebox/test/testenv"
)

// A box swap against the reference cloud: the old box sells while the
// cloud is away (its queue is in the backup taken then), reaches the
// cloud, sells on, and dies. A new box restored from that older backup
// sells: its queue holds events the cloud already has (from the old box)
// and its counter is behind the cloud's. The cloud must hold every order
// once, seq strictly increasing, no seq twice, no fault counted.
func TestBoxSwapFromAnOlderBackup(t *testing.T) {
	cloudDir := t.TempDir()
	cloud := harness.StartCloud(t, "--secret", "s3", "--data", cloudDir, "--down-for", "6s")
	oldBox := harness.New(t, upstreamConfig(cloud.URL))
	prepare(t, oldBox)
	oldBox.Start()
	paid := sell(t, oldBox, "T-1", "a1", 4)
	if n := queueDepth(t, oldBox); n == 0 {
		t.Fatal("the old box's queue is empty before the cloud came up")
	}
	file := filepath.Join(t.TempDir(), "nightly.tar.gz")
	if out, err := oldBox.Run("backup", file); err != nil {
		t.Fatalf("backup: %v\n%s", err, out)
	}
	testenv.EventuallyWithin(t, time.Minute, "the old box's queue drained", func() bool { return queueDepth(t, oldBox) == 0 })
	paid = append(paid, sell(t, oldBox, "T-1", "a2", 3)...)
	testenv.EventuallyWithin(t, time.Minute, "the old box's queue drained again", func() bool { return queueDepth(t, oldBox) == 0 })
	oldBox.Kill() // the disk died

	newBox := harness.New(t, upstreamConfig(cloud.URL))
	if out, err := newBox.Run("restore", file); err != nil {
		t.Fatalf("restore: %v\n%s", err, out)
	}
	storetest.CheckFile(t, filepath.Join(newBox.DataDir, store.FileName))
	newBox.Start()
	mine := sell(t, newBox, "T-1", "b", 3)
	paid = append(paid, mine...)
	testenv.EventuallyWithin(t, time.Minute, "the new box's queue drained", func() bool { return queueDepth(t, newBox) == 0 })

	checkWhole(t, cloudLedger(t, cloudDir, "test"), paid)
	st := cloud.Stats(t)
	if f := cloudFaults(t, cloud); f != 0 {
		t.Errorf("the cloud counts %v seq faults: %v", f, st["stores"])
	}
	if dup, _ := st["duplicates"].(float64); dup == 0 {
		t.Errorf("the restored queue's copies of the old box's events did not reach the cloud as duplicates: %v", st)
	}
	if gaps, _ := st["gaps"].(float64); gaps != 0 {
		t.Errorf("gaps %v", gaps)
	}
	// New oids: the old box issued oids after the backup was taken.
	seen := map[string]bool{}
	for _, oid := range paid {
		if seen[oid] {
			t.Errorf("oid %s issued twice", oid)
		}
		seen[oid] = true
	}
	if !strings.Contains(newBox.Log(), "ledger rebased") {
		t.Error("no \"ledger rebased\" in the new box's log")
	}
}
