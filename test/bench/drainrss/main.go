// Command drainrss queues a million ledger events in a data directory, then
// runs the real daemon against the reference cloud and reports how long
// the drain takes and the daemon's peak RSS while it drains.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/storebox/storebox/daemon/store"
	"github.com/storebox/storebox/test/bench/benchkit"
)

func main() {
	n := flag.Int("events", 1000000, "events to queue")
	bin := flag.String("bin", "bin/storebox", "storebox binary")
	cloudBin := flag.String("cloud", "bin/storebox-cloud", "storebox-cloud binary")
	flag.Parse()
	dir, err := os.MkdirTemp("", "drainrss-")
	check(err)
	defer os.RemoveAll(dir)
	data := filepath.Join(dir, "data")

	st, err := store.Open(data, store.Options{})
	check(err)
	t0 := time.Now()
	payload := json.RawMessage(`{"oid":"o","order_id":"x","equipId":"T-1","status":"paid","amount_total":1234,"method":"cash","lines":[{"gid":"g","qty":1}]}`)
	for done := 0; done < *n; {
		k := min(20000, *n-done)
		check(st.Update(func(t *store.Tx) error {
			for i := 0; i < k; i++ {
				if _, err := t.AppendEvent("order.paid", payload); err != nil {
					return err
				}
			}
			return nil
		}))
		done += k
	}
	check(st.Close())
	queued := time.Since(t0)

	cloudURL, stopCloud := benchkit.StartCloud(*cloudBin, "s")
	defer stopCloud()
	httpAddr := freeAddr()
	cfg := filepath.Join(dir, "c.toml")
	check(os.WriteFile(cfg, []byte(fmt.Sprintf(`store_id = "drain"
data_dir = %q
[log]
level = "warn"
[devices]
listen = %q
[discovery]
listen = ""
[mqtt]
listen = ""
[http]
listen = %q
read_auth = false # the loop below polls /api/v1/sync
[upstream]
url = %q
secret = "s"
`, data, freeAddr(), httpAddr, cloudURL)), 0o644))
	start := time.Now()
	d, _ := benchkit.StartDaemon(*bin, cfg, httpAddr)
	defer benchkit.StopDaemon(d)
	peak, peakAnon := 0.0, 0.0
	for {
		if r := benchkit.RSSMB(d.Process.Pid, "VmRSS:"); r > peak {
			peak = r
		}
		if r := benchkit.RSSMB(d.Process.Pid, "RssAnon:"); r > peakAnon {
			peakAnon = r
		}
		resp, err := http.Get("http://" + httpAddr + "/api/v1/sync")
		if err == nil {
			var s struct {
				Depth int `json:"depth"`
			}
			json.NewDecoder(resp.Body).Decode(&s)
			resp.Body.Close()
			if s.Depth == 0 && time.Since(start) > time.Second {
				break
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	fmt.Printf("  %-58s %s drain, peak RSS %.0f MB of which anonymous %.0f MB   (targets < 60 s, RSS < 200 MB; the rest is the bbolt file's mapped pages; queued in %s)\n",
		fmt.Sprintf("daemon binary drains %d queued events to the cloud", *n), time.Since(start).Round(100*time.Millisecond), peak, peakAnon, queued.Round(time.Second))
}

var (
	check    = benchkit.Check
	freeAddr = benchkit.FreeAddr
)
