package statuspage

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/storebox/storebox/protocol/frame"
	"github.com/storebox/storebox/test/browsertest"
	"github.com/storebox/storebox/test/harness"
)

// Figures, not assertions (a shared 2-core box makes timing asserts flaky):
//
//	go test ./test/statuspage -run '^$' -bench StatusPage -benchtime 3x
//	go test ./test/statuspage -run '^$' -bench IdleCPU -benchtime 1x -statuspage.window 30s
//
// Both connect -statuspage.sessions idle sessions first (each answers the
// daemon's heartbeats); 10,000 need about 10,000 file descriptors in the
// test and in the daemon (ulimit -n; Go raises the soft limit to the hard one).
var (
	benchSessions = flag.Int("statuspage.sessions", 10000, "idle device sessions connected during the status page benchmarks")
	cpuWindow     = flag.Duration("statuspage.window", 30*time.Second, "how long daemon CPU is sampled, with the page closed and then open")
	cpuProfile    = flag.String("statuspage.profile", "", "write the daemon's CPU profile while the page is open to this file (diagnosis; adds load)")
)

// idleSessions logs n label sessions in and answers their heartbeats until
// the returned func is called.
func idleSessions(tb testing.TB, addr string, n int) func() {
	tb.Helper()
	var (
		mu    sync.Mutex
		conns []net.Conn
		wg    sync.WaitGroup
	)
	sem := make(chan struct{}, 64)
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		sem <- struct{}{}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			// 50 sessions per loopback address: under the daemon's
			// per-client cap (devices.max_conns_per_address, 64).
			from := net.IPv4(127, 1, byte(i/50/250), byte(i/50%250+1))
			dialer := net.Dialer{Timeout: 10 * time.Second, LocalAddr: &net.TCPAddr{IP: from}}
			c, err := dialer.Dial("tcp", addr)
			if err != nil {
				<-sem
				errs <- err
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			id := fmt.Sprintf("ESL_%05d", i)
			login := fmt.Sprintf(`{"head":{"action":"login","equipId":%q,"seq":1},"body":{"kind":"label","mac_id":%q}}`, id, "mac-"+id)
			w := bufio.NewWriter(c)
			w.Write(frame.Append(nil, frame.ModeLine, []byte(login)))
			w.Flush()
			fr := frame.NewReader(c, 0)
			first := true
			for {
				p, err := fr.Next()
				if err != nil {
					if first {
						<-sem
						errs <- err
					}
					return
				}
				if first {
					first = false
					if !strings.Contains(string(p), `"exception":""`) {
						<-sem
						errs <- fmt.Errorf("login %s: %s", id, p)
						return
					}
					<-sem
					errs <- nil
					continue
				}
				var m struct {
					Head struct {
						Action string `json:"action"`
					} `json:"head"`
				}
				if json.Unmarshal(p, &m) == nil && m.Head.Action == "health" {
					w.Write(frame.Append(nil, frame.ModeLine, []byte(`{"head":{"action":"healthReturn"},"body":{}}`)))
					w.Flush()
				}
			}
		}(i)
	}
	closeAll := func() {
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	}
	for i := 0; i < n; i++ {
		if err := <-errs; err != nil {
			closeAll()
			tb.Fatalf("session %d of %d: %v", i, n, err)
		}
	}
	return closeAll
}

// cpuTicks is the process's utime+stime in clock ticks (/proc/<pid>/stat).
func cpuTicks(tb testing.TB, pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		tb.Fatal(err)
	}
	// Fields after the command name (which may hold spaces) start at ")".
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return ut + st
}

// cpuPercent samples the daemon's CPU share of one core over window.
func cpuPercent(tb testing.TB, pid int, window time.Duration) float64 {
	const hz = 100 // USER_HZ on Linux
	t0, c0 := time.Now(), cpuTicks(tb, pid)
	time.Sleep(window)
	c1, el := cpuTicks(tb, pid), time.Since(t0)
	return float64(c1-c0) / hz / el.Seconds() * 100
}

func startLoaded(b *testing.B) (*harness.Daemon, func()) {
	d := harness.New(b, "")
	d.Start()
	start := time.Now()
	stop := idleSessions(b, d.DevAddr, *benchSessions)
	b.Logf("%d sessions logged in in %s", *benchSessions, time.Since(start).Round(time.Millisecond))
	// Wait until the daemon counts them all.
	deadline := time.Now().Add(60 * time.Second)
	for {
		var s struct {
			Sessions map[string]int `json:"sessions"`
		}
		resp, err := d.Get("/api/v1/status")
		if err == nil {
			json.NewDecoder(resp.Body).Decode(&s)
			resp.Body.Close()
		}
		if s.Sessions["label"] >= *benchSessions {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("daemon counts %d sessions", s.Sessions["label"])
		}
		time.Sleep(100 * time.Millisecond)
	}
	return d, stop
}

// BenchmarkStatusPageFirstLoad: navigation start to the first live status
// rendered, in a real Chromium, with -statuspage.sessions connected.
func BenchmarkStatusPageFirstLoad(b *testing.B) {
	br := newBrowser(b, 10*time.Minute)
	d, stop := startLoaded(b)
	defer stop()
	url := "http://" + d.HTTPAddr + "/"
	// Sign in once; the tabs below share the browser's session cookie.
	br.signIn(b, d.HTTPAddr, d.AdminToken())
	var total, worst float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// A fresh tab each time: a first load, not a navigation within a page.
		tab, closeTab := chromedp.NewContext(br.Ctx)
		tb := &browser{&browsertest.Browser{Ctx: tab}}
		tb.Do(b, "open the page", chromedp.Navigate(url))
		tb.waitJS(b, "first status", `performance.getEntriesByName("storebox-first-status").length > 0`)
		ms := eval[float64](b, tb, `performance.getEntriesByName("storebox-first-status")[0].startTime`)
		if testing.Verbose() {
			b.Logf("load %d: %.1f ms; timing: %s", i, ms, eval[string](b, tb, `JSON.stringify(performance.getEntriesByType("navigation").map(e => ({resp: e.responseEnd, dcl: e.domContentLoadedEventEnd, load: e.loadEventEnd, event: performance.getEntriesByName("storebox-first-event")[0].startTime})))`))
		}
		if i == b.N-1 {
			shown := eval[float64](b, tb, `document.querySelectorAll("#online-table tbody tr").length`)
			count := eval[string](b, tb, `document.getElementById("online-count").textContent`)
			b.Logf("page lists %.0f rows of %s sessions", shown, count)
		}
		closeTab()
		total += ms
		worst = max(worst, ms)
	}
	b.StopTimer()
	b.ReportMetric(total/float64(b.N), "ms/first-status")
	b.ReportMetric(worst, "ms-worst")
	b.Logf("first load to live status: mean %.1f ms, worst %.1f ms over %d loads", total/float64(b.N), worst, b.N)
	// The same over plain HTTP with no page open (the feed builds afresh):
	// page, script, style and the first event.
	// After the feed's linger: a cold build.
	time.Sleep(11 * time.Second)
	t0 := time.Now()
	for _, p := range []string{"/", "/ui/app.js", "/ui/style.css"} {
		resp, err := d.Get(p)
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
	}
	resp, err := d.Get("/api/v1/events")
	if err != nil {
		b.Fatal(err)
	}
	r := bufio.NewReader(resp.Body)
	size := 0
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			b.Fatal(err)
		}
		if strings.HasPrefix(line, "data: ") {
			size = len(line)
			break
		}
	}
	resp.Body.Close()
	b.ReportMetric(float64(time.Since(t0).Microseconds())/1000, "ms-http-first-event")
	b.Logf("plain HTTP: page+script+style+first event in %s; first event %d bytes", time.Since(t0).Round(time.Microsecond), size)
}

// BenchmarkIdleCPU: the daemon's CPU with -statuspage.sessions idle
// sessions, first with no page open, then with the status page open.
func BenchmarkIdleCPU(b *testing.B) {
	br := newBrowser(b, 10*time.Minute)
	d, stop := startLoaded(b)
	defer stop()
	pid := d.Cmd.Process.Pid
	br.signIn(b, d.HTTPAddr, d.AdminToken())
	br.Do(b, "close the page", chromedp.Navigate("about:blank"))
	for i := 0; i < b.N; i++ {
		time.Sleep(3 * time.Second) // let login work settle
		closed := cpuPercent(b, pid, *cpuWindow)
		br.Do(b, "open the page", chromedp.Navigate("http://"+d.HTTPAddr+"/"))
		br.waitJS(b, "first status", `performance.getEntriesByName("storebox-first-status").length > 0`)
		time.Sleep(2 * time.Second)
		if *cpuProfile != "" {
			go saveProfile(b, d, *cpuWindow)
		}
		open := cpuPercent(b, pid, *cpuWindow)
		br.Do(b, "close the page", chromedp.Navigate("about:blank"))
		b.ReportMetric(closed, "cpu%-page-closed")
		b.ReportMetric(open, "cpu%-page-open")
		b.Logf("daemon CPU over %s with %d sessions: page closed %.2f%%, page open %.2f%% (of one core)", *cpuWindow, *benchSessions, closed, open)
	}
}

func saveProfile(b *testing.B, d *harness.Daemon, window time.Duration) {
	req, _ := http.NewRequest("GET", fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", d.HTTPAddr, int(window.Seconds())), nil)
	req.Header.Set("Authorization", "Bearer "+d.AdminToken())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Logf("profile: %v", err)
		return
	}
	defer resp.Body.Close()
	f, err := os.Create(*cpuProfile)
	if err != nil {
		b.Logf("profile: %v", err)
		return
	}
	defer f.Close()
	f.ReadFrom(resp.Body)
}

// BenchmarkKnownDevices: GET /api/v1/devices/known (what the page's Known
// devices list fetches) with -statuspage.sessions devices known and online.
func BenchmarkKnownDevices(b *testing.B) {
	d, stop := startLoaded(b)
	defer stop()
	profiled := make(chan struct{})
	if *cpuProfile != "" {
		go func() { saveProfile(b, d, *cpuWindow); close(profiled) }()
	} else {
		close(profiled)
	}
	size := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		resp, err := d.Get("/api/v1/devices/known?limit=200")
		if err != nil {
			b.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("GET /api/v1/devices/known: %s", resp.Status)
		}
		size = int(n)
	}
	b.StopTimer()
	<-profiled
	b.ReportMetric(float64(size), "bytes/reply")
}
