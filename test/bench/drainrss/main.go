// Command drainrss queues a million ledger events in a data directory, then
// runs the real daemon against the reference cloud and reports how long
// the drain takes and the daemon's peak RSS while it drains.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/storebox/storebox/daemon/store"
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

	cloud := exec.Command(*cloudBin, "--listen", "127.0.0.1:0", "--secret", "s")
	out, _ := cloud.StdoutPipe()
	check(cloud.Start())
	defer cloud.Process.Kill()
	line, err := bufio.NewReader(out).ReadString('\n')
	check(err)
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
[upstream]
url = "http://%s"
secret = "s"
`, data, freeAddr(), httpAddr, strings.TrimSpace(line))), 0o644))
	d := exec.Command(*bin, "run", "--config", cfg)
	d.Stderr = os.Stderr
	start := time.Now()
	check(d.Start())
	defer func() { d.Process.Signal(os.Interrupt); d.Wait() }()
	peak, peakAnon := 0.0, 0.0
	for {
		if r := rssMB(d.Process.Pid, "VmRSS:"); r > peak {
			peak = r
		}
		if r := rssMB(d.Process.Pid, "RssAnon:"); r > peakAnon {
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

func rssMB(pid int, field string) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, field) {
			kb, _ := strconv.Atoi(strings.Fields(l)[1])
			return float64(kb) / 1024
		}
	}
	return 0
}

func freeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	defer l.Close()
	return l.Addr().String()
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "drainrss:", err)
		os.Exit(1)
	}
}
