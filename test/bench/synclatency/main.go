// Command synclatency measures the time from a device's reply (the fact is
// on disk) to the cloud acknowledging its ledger event, with the reference
// cloud online on loopback. It prints the figure; it asserts nothing.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/storebox/storebox/protocol/frame"
	"github.com/storebox/storebox/test/bench/benchkit"
)

func main() {
	n := flag.Int("n", 300, "receipts to time")
	bin := flag.String("bin", "bin/storebox", "storebox binary")
	cloudBin := flag.String("cloud", "bin/storebox-cloud", "storebox-cloud binary")
	flag.Parse()
	dir, err := os.MkdirTemp("", "synclat-")
	check(err)
	defer os.RemoveAll(dir)

	cloudURL, stopCloud := benchkit.StartCloud(*cloudBin, "s")
	defer stopCloud()

	dev, httpAddr := freeAddr(), freeAddr()
	cfg := filepath.Join(dir, "c.toml")
	check(os.WriteFile(cfg, []byte(fmt.Sprintf(`store_id = "lat"
data_dir = %q
[log]
level = "warn"
[devices]
listen = %q
admission = "open"
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
`, filepath.Join(dir, "data"), dev, httpAddr, cloudURL)), 0o644))
	d, _ := benchkit.StartDaemon(*bin, cfg, httpAddr)
	defer benchkit.StopDaemon(d)
	c, err := net.Dial("tcp", dev)
	check(err)
	fr := frame.NewReader(c, 0)
	call := func(msg string) string {
		c.Write(frame.Append(nil, frame.ModeLine, []byte(msg)))
		for {
			p, err := fr.Next()
			check(err)
			if !strings.Contains(string(p), `"action":"health"`) {
				return string(p)
			}
		}
	}
	call(`{"head":{"action":"login","equipId":"T-LAT"},"body":{}}`)
	// One goods to receive stock for.
	imp := filepath.Join(dir, "cat.csv")
	os.WriteFile(imp, []byte("gid,gname,price,unit\nL1,Latency goods,100,pcs\n"), 0o644)
	o, err := exec.Command(*bin, "catalog", "import", imp, "--config", cfg).CombinedOutput()
	if err != nil {
		check(fmt.Errorf("%v %s", err, o))
	}
	depth := func() int {
		r, err := http.Get("http://" + httpAddr + "/api/v1/sync")
		check(err)
		defer r.Body.Close()
		var st struct {
			Depth int `json:"depth"`
		}
		json.NewDecoder(r.Body).Decode(&st)
		return st.Depth
	}
	for depth() != 0 {
		time.Sleep(10 * time.Millisecond)
	}
	var lat []time.Duration
	for i := 0; i < *n; i++ {
		reply := call(fmt.Sprintf(`{"head":{"action":"stockGoods","seq":%d},"body":{"whid":"main","ref":"LAT-%d","lines":[{"gid":"L1","qty":1}]}}`, i, i))
		t0 := time.Now()
		if !strings.Contains(reply, `"exception":""`) {
			check(fmt.Errorf("stockGoods: %s", reply))
		}
		for depth() != 0 {
			time.Sleep(2 * time.Millisecond)
		}
		lat = append(lat, time.Since(t0))
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	fmt.Printf("  %-58s p50 %s  p99 %s  max %s   (target p99 < 500 ms; polled every 2 ms)\n",
		fmt.Sprintf("reply → event acked by the online cloud (%d receipts)", *n),
		lat[len(lat)/2].Round(time.Millisecond), lat[len(lat)*99/100].Round(time.Millisecond), lat[len(lat)-1].Round(time.Millisecond))
}

var (
	check    = benchkit.Check
	freeAddr = benchkit.FreeAddr
)
