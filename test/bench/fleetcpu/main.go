// Command fleetcpu measures the daemon's CPU for fleet health reporting
// (issue 12: under 0.1 % of a core at the default fleet.health_interval).
//
// Three real daemons, each knowing -devices device records, run side by side for -d against one reference cloud:
//
//	A  health_interval = 1s (a snapshot a second, alert checks every second)
//	B  the defaults (a snapshot a minute, alert checks every 2 s)
//	C  no upstream at all (no fleet, no uploader: the idle baseline)
//
// Each one's user+system CPU is read from the kernel when it exits. The
// cost of one snapshot (observe, build, sign, PUT, with its alert check) is
// (A−B) / (snapshots A − snapshots B); the default interval costs one of
// those a minute plus B's 2-second alert checks, bounded above by (B−C)/d,
// which also holds the idle uploader and catalog feed. It prints the
// figures; it asserts nothing.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	"github.com/storebox/storebox/daemon/store"
	"github.com/storebox/storebox/daemon/store/admission"
	"github.com/storebox/storebox/test/bench/benchkit"
)

func main() {
	dur := flag.Duration("d", 60*time.Second, "how long each daemon runs")
	bin := flag.String("bin", "bin/storebox", "storebox binary")
	cloudBin := flag.String("cloud", "bin/storebox-cloud", "storebox-cloud binary")
	nDevices := flag.Int("devices", 2000, "device records each daemon knows (e-labels, terminals), 1 in 100 pending")
	flag.Parse()
	dir, err := os.MkdirTemp("", "fleetcpu-")
	benchkit.Check(err)
	defer os.RemoveAll(dir)
	cloudURL, stopCloud := benchkit.StartCloud(*cloudBin, "s")
	defer stopCloud()

	upstream := fmt.Sprintf("[upstream]\nurl = %q\nsecret = \"s\"\n", cloudURL)
	variants := []struct {
		name, extra string
	}{
		{"A", upstream + "[fleet]\nhealth_interval = \"1s\"\n"},
		{"B", upstream},
		{"C", ""},
	}
	cpu := make([]time.Duration, len(variants))
	var wg sync.WaitGroup
	for i, v := range variants {
		httpAddr := benchkit.FreeAddr()
		cfg := filepath.Join(dir, v.name+".toml")
		seedDevices(filepath.Join(dir, v.name), *nDevices)
		benchkit.Check(os.WriteFile(cfg, []byte(fmt.Sprintf(`store_id = "cpu-%s"
data_dir = %q
[log]
level = "error"
[devices]
listen = "127.0.0.1:0"
[discovery]
listen = ""
[mqtt]
listen = ""
[http]
listen = %q
%s`, v.name, filepath.Join(dir, v.name), httpAddr, v.extra)), 0o644))
		d, _ := benchkit.StartDaemonCmd(exec.Command(*bin, "run", "--config", cfg), httpAddr)
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(*dur)
			benchkit.StopDaemon(d)
			cpu[i] = d.ProcessState.UserTime() + d.ProcessState.SystemTime()
		}()
	}
	wg.Wait()

	secs := dur.Seconds()
	nA, nB := 1+secs/1, 1+secs/60 // a snapshot at start, then one per interval
	perSnap := time.Duration(float64(cpu[0]-cpu[1]) / (nA - nB))
	pct := func(d time.Duration, over float64) float64 { return 100 * d.Seconds() / over }
	fmt.Printf("each daemon knows %d devices (%d pending)\n", *nDevices, (*nDevices+99)/100)
	fmt.Printf("daemon CPU over %s: A (health every 1s) %s, B (defaults) %s, C (no upstream) %s\n",
		*dur, cpu[0].Round(time.Millisecond), cpu[1].Round(time.Millisecond), cpu[2].Round(time.Millisecond))
	fmt.Printf("one health snapshot (observe, alerts, JSON, sign, PUT on loopback): %s CPU\n", perSnap.Round(time.Microsecond))
	fmt.Printf("health reporting at the default 60s interval: %.4f %% of a core for the snapshots (one a minute)\n", pct(perSnap, 60))
	fmt.Printf("upper bound, everything an upstream adds at the defaults (B−C: health, 2 s alert checks, config polls, idle uploader and feed): %.3f %% of a core (target < 0.1 %%)\n",
		pct(cpu[1]-cpu[2], secs))
}

// seedDevices records n devices in a fresh data directory, one in a
// hundred still pending, as a store with e-labels has them.
func seedDevices(dataDir string, n int) {
	st, err := store.Open(dataDir, store.Options{})
	benchkit.Check(err)
	defer st.Close()
	records := admission.New(st)
	// Concurrent calls share the store's batched transactions: a few
	// fsyncs instead of one per device.
	var wg sync.WaitGroup
	sem := make(chan struct{}, 256)
	for i := range n {
		status := admission.DeviceApproved
		if i%100 == 0 {
			status = admission.DevicePending
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			_, err := records.SeeDevice(admission.Device{EquipID: fmt.Sprintf("L-%05d", i), Kind: "label"}, status, nil)
			benchkit.Check(err)
		}()
	}
	wg.Wait()
}
