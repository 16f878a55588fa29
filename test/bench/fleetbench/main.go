// Command fleetbench measures the reference cloud as a fleet console
// (issue 12): `storebox sim fleet` runs -stores simulated stores against it
// at a -interval health interval for -window, while the bench samples the
// cloud's RSS and CPU and loads the fleet page in headless Chromium. It
// prints the health ingest rate and round-trip percentiles (as the stores
// measured them), the page's first load, and the cloud's memory. It asserts
// nothing.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/storebox/storebox/sync/cloudref"
	"github.com/storebox/storebox/sync/fleetsim"
	"github.com/storebox/storebox/test/bench/benchkit"
)

func main() {
	stores := flag.Int("stores", 2000, "simulated stores")
	interval := flag.Duration("interval", 10*time.Second, "health interval of every store")
	window := flag.Duration("window", 60*time.Second, "how long the stores run")
	events := flag.Duration("events", 30*time.Second, "each store posts a small event batch this often (0: none)")
	loads := flag.Int("loads", 5, "fleet page first loads measured")
	persist := flag.Bool("persist", true, "the cloud keeps its state in a directory (--data: events fsynced, fleet.json)")
	bin := flag.String("bin", "bin/storebox", "storebox binary")
	cloudBin := flag.String("cloud", "bin/storebox-cloud", "storebox-cloud binary")
	chromium := flag.String("chromium", "chromium", "headless Chromium for the page loads (skipped when missing)")
	flag.Parse()

	dir, err := os.MkdirTemp("", "fleetbench-")
	benchkit.Check(err)
	defer os.RemoveAll(dir)
	args := []string{"--secret", "s", "--admin-token", "a", "--health-interval", interval.String()}
	if *persist {
		args = append(args, "--data", dir)
	}
	cloud, url := benchkit.StartCloudCmd(*cloudBin, args...)
	defer func() { cloud.Process.Kill(); cloud.Wait() }()
	pid := cloud.Process.Pid
	rssIdle := benchkit.RSSMB(pid, "VmRSS:")
	// A desired configuration for every tenth store, so polls see 200s,
	// then 304s, besides the 404s of stores with none.
	desired := 0
	for i := 0; i < *stores; i += 10 {
		req, _ := http.NewRequest("PUT", fmt.Sprintf("%s/v1/admin/stores/sim-%04d/config", url, i),
			strings.NewReader(`{"version": 1, "config": {"devices": {"admission": "open"}, "orders": {"payment_ttl": "10m"}}}`))
		req.Header.Set("Authorization", "Bearer a")
		r, err := http.DefaultClient.Do(req)
		benchkit.Check(err)
		r.Body.Close()
		if r.StatusCode != http.StatusOK {
			benchkit.Check(fmt.Errorf("PUT desired config: %s", r.Status))
		}
		desired++
	}

	sim := exec.Command(*bin, "sim", "fleet", "--stores", fmt.Sprint(*stores), "--cloud", url, "--secret", "s",
		"--interval", interval.String(), "--event-interval", events.String(), "--duration", window.String(), "--report", "0", "--json")
	sim.Stderr = os.Stderr
	out, err := sim.StdoutPipe()
	benchkit.Check(err)
	t0, cpu0 := time.Now(), benchkit.CPUTime(pid)
	benchkit.Check(sim.Start())
	result := make(chan []byte, 1)
	go func() { b, _ := io.ReadAll(out); result <- b }()

	// Page loads once every store has reported, the stores still running.
	for {
		var v struct {
			Total int `json:"total"`
		}
		if r, err := http.Get(url + "/fleet.json?since=999999999999"); err == nil {
			json.NewDecoder(r.Body).Decode(&v)
			r.Body.Close()
		}
		if v.Total >= *stores || time.Since(t0) > *window {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	loadBusy := loadAvg()
	pageBusy := pageLoads(url, *chromium, *loads, *stores, true)
	getMS, getKB := plainGet(url)

	peak := 0.0
	var b []byte
	for b == nil {
		select {
		case b = <-result:
		case <-time.After(500 * time.Millisecond):
			peak = max(peak, benchkit.RSSMB(pid, "VmRSS:"))
		}
	}
	benchkit.Check(sim.Wait())
	var cs cloudref.Stats
	if r, err := http.Get(url + "/stats?format=json"); err == nil {
		json.NewDecoder(r.Body).Decode(&cs)
		r.Body.Close()
	}
	elapsed, cpu := time.Since(t0), benchkit.CPUTime(pid)-cpu0
	rss := benchkit.RSSMB(pid, "VmRSS:")
	// Again with the simulator stopped: the page alone, not the page
	// sharing two cores with 2,000 simulated stores.
	loadIdle := loadAvg()
	pageIdle := pageLoads(url, *chromium, *loads, *stores, false)
	peak = max(peak, rss)
	var st fleetsim.Stats
	if err := json.Unmarshal(b, &st); err != nil {
		benchkit.Check(fmt.Errorf("sim fleet output %q: %w", b, err))
	}

	fmt.Printf("fleet: %d simulated stores, health every %s, %.0f s (stores and cloud on this box, shared with other work)\n",
		*stores, *interval, st.ElapsedS)
	fmt.Printf("  health ingest: %.1f snapshots/s (%d accepted, %d failed); round trip p50 %.1f ms, p99 %.1f ms, max %.1f ms\n",
		st.HealthPerSec, st.HealthOK, st.HealthFailed, st.HealthP50MS, st.HealthP99MS, st.HealthMaxMS)
	fmt.Printf("  in the cloud (read, verify, decode, keep): p50 %.2f ms, p99 %.2f ms over the last %d snapshots\n",
		cs.Fleet.HealthP50MS, cs.Fleet.HealthP99MS, min(cs.Fleet.HealthReceived, 1<<16))
	fmt.Printf("  alongside: %d config polls (%d stores with a desired configuration: %d applied, then %d not modified), %d events acknowledged (a batch per store every %s; %d batches made durable by %d fsyncs)\n",
		st.ConfigPolls, desired, st.ConfigApplied, st.ConfigNotModified, st.EventsAcked, *events, cs.Batches, cs.EventFsyncs)
	fmt.Println("  fleet page first load while the stores run (load average " + loadBusy + ")" + pageBusy)
	fmt.Println("  fleet page first load after the stores stopped (load average " + loadIdle + ")" + pageIdle)
	fmt.Printf("  fleet page over plain HTTP: GET / %.1f ms, %.0f KB (every store inline)\n", getMS, getKB)
	fmt.Printf("  cloud RSS: %.1f MB idle, %.1f MB at the end, %.1f MB peak; cloud CPU %.1f %% of a core\n",
		rssIdle, rss, peak, cpu.Seconds()/elapsed.Seconds()*100)
	if st.LastError != "" {
		fmt.Printf("  last sim error: %s\n", st.LastError)
	}
}

// pageLoads opens the fleet page n times, each in a fresh tab, and reports
// navigation start to every store rendered (the page's
// "fleet-first-render" mark); with polls, the last tab stays for 6 polls
// and reports what each cost and how many rows it made again.
func pageLoads(url, chromium string, n, stores int, polls bool) string {
	exe, err := exec.LookPath(chromium)
	if err != nil {
		return ": skipped (no " + chromium + ")"
	}
	udd, err := os.MkdirTemp("", "fleetbench-chromium-")
	benchkit.Check(err)
	defer os.RemoveAll(udd)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, chromedp.ExecPath(exe), chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true), chromedp.Flag("disable-gpu", true), chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.UserDataDir(udd), chromedp.WindowSize(1280, 900))
	defer cancelAlloc()
	bctx, cancelB := chromedp.NewContext(actx)
	defer cancelB()
	benchkit.Check(chromedp.Do(bctx, chromedp.Navigate("about:blank")))
	var first, all []float64
	rows, pollLine := 0.0, ""
	for range n {
		tab, closeTab := chromedp.NewContext(bctx)
		benchkit.Check(chromedp.Do(tab, chromedp.Navigate(url+"/")))
		_, err := chromedp.Run(tab, chromedp.Poll[bool](`performance.getEntriesByName("fleet-all-rows").length > 0`,
			chromedp.WithPollingInterval(20*time.Millisecond), chromedp.WithPollingTimeout(30*time.Second)))
		benchkit.Check(err)
		v, err := chromedp.Run(tab, chromedp.Evaluate[[]float64](`["fleet-first-render", "fleet-all-rows"].map(m => performance.getEntriesByName(m)[0].startTime)`))
		benchkit.Check(err)
		rows, err = chromedp.Run(tab, chromedp.Evaluate[float64](`document.querySelectorAll("#stores tbody tr").length`))
		benchkit.Check(err)
		first, all = append(first, v[0]), append(all, v[1])
		if polls && len(first) == n {
			pollLine = pollCost(tab, stores)
		}
		closeTab()
	}
	return fmt.Sprintf(" (Chromium, from navigation start):\n    first screen (the 100 most urgent stores) painted %s;\n"+
		"    all %.0f of %d stores painted %s", spread(first), rows, stores, spread(all)) + pollLine
}

// pollCost waits for 6 polls of an open fleet page and reports their
// render time and the rows each made again (the page's "fleet-poll-render"
// measures).
func pollCost(tab context.Context, stores int) string {
	const polls = 6
	_, err := chromedp.Run(tab, chromedp.Poll[bool](fmt.Sprintf(`performance.getEntriesByName("fleet-poll-render").length >= %d`, polls),
		chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(30*time.Second)))
	if err != nil {
		return "\n    polls: none measured (" + err.Error() + ")"
	}
	v, err := chromedp.Run(tab, chromedp.Evaluate[[][]float64](`performance.getEntriesByName("fleet-poll-render").map(m => [m.duration, m.detail.made])`))
	benchkit.Check(err)
	var ms, made []float64
	for _, e := range v {
		ms, made = append(ms, e[0]), append(made, e[1])
	}
	slices.Sort(made)
	return fmt.Sprintf("\n    a poll (every 2 s) while the stores report: %s to update the rows, making again median %.0f, most %.0f of %d rows",
		strings.ReplaceAll(spread(ms), "loads", "polls"), made[len(made)/2], made[len(made)-1], stores)
}

// spread is the median, mean and worst of ms.
func spread(ms []float64) string {
	slices.Sort(ms)
	sum := 0.0
	for _, v := range ms {
		sum += v
	}
	return fmt.Sprintf("median %.0f ms, mean %.0f ms, worst %.0f ms over %d loads", ms[len(ms)/2], sum/float64(len(ms)), ms[len(ms)-1], len(ms))
}

// plainGet times GET / (the page with every store inline).
func plainGet(url string) (ms, kb float64) {
	t0 := time.Now()
	r, err := http.Get(url + "/")
	benchkit.Check(err)
	n, _ := io.Copy(io.Discard, r.Body)
	r.Body.Close()
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
		benchkit.Check(fmt.Errorf("GET /: %s", r.Header.Get("Content-Type")))
	}
	return float64(time.Since(t0).Microseconds()) / 1000, float64(n) / 1024
}

// loadAvg is the box's 1-minute load average: on a shared machine the
// tail latencies follow it.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Fields(string(b))[0]
}
