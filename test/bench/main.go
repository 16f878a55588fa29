//go:build linux

// Command bench measures the figures the issues ask for against the real
// binary on loopback and prints them. It asserts nothing: figures are
// reported, not tested (timed assertions are flaky on a shared 2-core box).
//
//	go run ./test/bench [-goods 1000000] [-sessions 10000] [-only core]
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/storebox/storebox/protocol/catalogfile"
	"github.com/storebox/storebox/protocol/catalogfile/synth"
	"github.com/storebox/storebox/protocol/frame"
	"github.com/storebox/storebox/test/bench/benchkit"
	"github.com/storebox/storebox/test/bench/leangen"
)

type env struct {
	bin, dir, cfg string
	devAddr       string
	httpAddr      string
	proc          *exec.Cmd
	genCPU        int    // the lean generator's CPU with -pin, else -1
	cgroupProcs   string // the daemon starts in this cgroup (its cgroup.procs file)
}

func main() {
	nGoods := flag.Int("goods", 1000000, "catalog size")
	nSessions := flag.Int("sessions", 10000, "idle sessions for the RSS figure")
	conns := flag.Int("conns", 100, "concurrent connections for throughput")
	dur := flag.Duration("duration", 5*time.Second, "length of each throughput run")
	bin := flag.String("bin", "bin/storebox", "storebox binary")
	dataDir := flag.String("data", "", "reuse this data directory (imported once, kept)")
	only := flag.String("only", "", "run only this figure group: getgoods, paced (the lean generator's paced getGoods run, for profiles and A/B runs), or pressure (the daemon in a 512 MB memory cgroup)")
	pin := flag.Bool("pin", false, "run the daemon on all CPUs but the last and the lean generator, polling, on the last")
	profile := flag.String("profile", "", "save the daemon's heap profile and smaps_rollup after the getGoods load into this directory")
	flag.Parse()
	raiseNoFile()

	dir, err := os.MkdirTemp("", "storebox-bench-")
	check(err)
	defer os.RemoveAll(dir)
	e := &env{bin: *bin, dir: dir, genCPU: -1}
	if *pin {
		e.genCPU = pinnedGeneratorCPU(numCPU())
	}
	fmt.Printf("storebox bench: %d goods, %d conns, %d idle sessions, GOMAXPROCS-free machine with %d CPUs\n\n", *nGoods, *conns, *nSessions, numCPU())

	data := filepath.Join(dir, "data")
	if *dataDir != "" {
		data = *dataDir
	}
	if _, err := os.Stat(filepath.Join(data, "storebox.db")); err != nil {
		csvPath := filepath.Join(dir, "catalog.csv")
		writeCatalog(csvPath, *nGoods)
		t0 := time.Now()
		out, err := exec.Command(e.bin, "catalog", "import", "--direct", csvPath, "--data-dir", data).CombinedOutput()
		check(errOut(err, out))
		figure("catalog import of %d goods", *nGoods)(time.Since(t0), "target < 60 s")
		os.Remove(csvPath)
	}

	// Start-up to ready.
	e.cfg = filepath.Join(dir, "storebox.toml")
	e.devAddr, e.httpAddr = freeAddr(), freeAddr()
	check(os.WriteFile(e.cfg, []byte(fmt.Sprintf(`store_id = "bench"
data_dir = %q
[log]
level = "warn"
[devices]
listen = %q
admission = "open"
heartbeat = "15s"
max_connections = 20000
max_conns_per_address = 20000
[discovery]
listen = "127.0.0.1:0"
mdns = false
[mqtt]
listen = "127.0.0.1:0"
[http]
listen = %q
admin_token = "bench"
`, data, e.devAddr, e.httpAddr)), 0o644))
	if *only == "pressure" {
		e.underMemoryLimit(*nGoods, 512<<20, *dur)
		return
	}
	ready := e.start()
	figure("storebox run ready (listeners up) with %d goods", *nGoods)(ready, "target < 1 s")
	defer e.stop()
	// The name index builds in the background after ready; wait for it so
	// the load figures are not measured against that build.
	t0 := time.Now()
	e.dial("B-warm").call(`{"head":{"action":"getGoods","seq":1},"body":{"gname":"牛奶"}}`)
	figure("name index available after ready")(time.Since(t0), "searches wait for it")

	rng := rand.New(rand.NewSource(1))
	barcode := func() map[string]any {
		g, _ := synth.Goods(rng.Intn(*nGoods))
		return map[string]any{"code": g.Barcode}
	}
	// One pass first, printed but not the figure: the first seconds after
	// the index build measured slower (a store daemon runs for days).
	{
		rate, p99 := e.load(*conns, *dur, "getGoods", func(*rand.Rand) map[string]any { return barcode() })
		fmt.Printf("  %-58s %10.0f req/s   p99 %8s   (warm-up pass)\n", "getGoods by barcode, 100 connections, one in flight each", rate, p99)
	}
	gen := "lean generator"
	if e.genCPU >= 0 {
		gen = fmt.Sprintf("lean generator polling on CPU %d, daemon on the others", e.genCPU)
	}
	cpu := e.cpuMeter()
	if *only == "paced" {
		e.leanPaced(*conns, *dur, *nGoods, gen, cpu)
		return
	}
	var cpuProfile chan struct{}
	if *profile != "" {
		cpuProfile = e.saveCPUProfile(*profile, *dur)
	}
	rate, p99 := e.load(*conns, *dur, "getGoods", func(*rand.Rand) map[string]any { return barcode() })
	if cpuProfile != nil {
		<-cpuProfile
	}
	fmt.Printf("  %-58s %10.0f req/s   p99 %8s   (targets ≥ 50,000 req/s, p99 < 2 ms)\n", "getGoods by barcode, 100 connections, one in flight each", rate, p99)
	cpu(rate * dur.Seconds())
	pr := e.paced(*conns, 50000, *dur, *nGoods)
	fmt.Printf("  %-58s %10.0f req/s   p99 %8s   p50 %8s   (target p99 < 2 ms at 50,000 req/s; write to reply)\n", "getGoods by barcode, 100 connections, paced at 50,000 req/s", pr.rate, pr.svcP99, pr.svcP50)
	fmt.Printf("  %-58s %10s         p99 %8s   (from when each request was due, wrk2-style)\n", "  the same run, coordinated omission corrected", "", pr.coP99)
	cpu(pr.rate * dur.Seconds())
	// The same two loads from the lean generator (test/bench/leangen).
	lr := e.lean(*conns, 0, *dur, *nGoods)
	fmt.Printf("  %-58s %10.0f req/s   p99 %8s   (%s)\n", "getGoods by barcode, 100 connections, one in flight each", lr.Rate(), leangen.Quantile(lr.Service, 0.99), gen)
	cpu(float64(lr.Replies))
	e.leanPaced(*conns, *dur, *nGoods, gen, cpu)
	rate = e.pipelined(*conns, 8, *dur, *nGoods)
	fmt.Printf("  %-58s %10.0f req/s   (server capacity; latency not comparable)\n", "getGoods by barcode, 100 connections, 8 in flight each", rate)
	e.memoryFigure(*nGoods, "after the getGoods runs", "targets with 1M goods: anon < 250 MB, RSS < 400 MB")
	if *profile != "" {
		e.saveProfile(*profile)
	}
	if *only == "getgoods" {
		return
	}
	for _, conns := range []int{1, 4} {
		for _, ost := range []int{0, *nGoods * 9 / 10} {
			ost := ost
			_, p99 := e.load(conns, *dur/2, "getAllGoods", func(*rand.Rand) map[string]any { return map[string]any{"ost": ost, "lmt": 150} })
			fmt.Printf("  %-58s p99 %8s   (target < 5 ms)\n", fmt.Sprintf("getAllGoods ost %d lmt 150, %d connection(s)", ost, conns), p99)
		}
	}
	words := []string{"米", "牛奶", "Cola", "apple", "550ml", "有机", "Premium", "饼干"}
	_, p99 = e.load(4, *dur/2, "getGoods", func(r *rand.Rand) map[string]any {
		return map[string]any{"gname": words[r.Intn(len(words))] + strconv.Itoa(r.Intn(10))}
	})
	fmt.Printf("  %-58s p99 %8s   (target < 20 ms)\n", "gname substring search, 4 connections", p99)

	fmt.Printf("  %-58s %8.0f MB   (bbolt's mmap pages count in RSS)\n", fmt.Sprintf("RSS with the %d-goods store, after the runs", *nGoods), e.rssMB())
	e.stop()
	if *nGoods > 100000 {
		e.smallerCatalog(100000, *dur/2)
	}

	// Idle sessions are measured on a store of ordinary size, so the figure
	// is what sessions cost rather than what a million goods cost.
	small := &env{bin: e.bin, dir: dir, cfg: filepath.Join(dir, "small.toml"), devAddr: freeAddr(), httpAddr: freeAddr(), genCPU: -1}
	cfgText, _ := os.ReadFile(e.cfg)
	cfgText = []byte(strings.NewReplacer(data, filepath.Join(dir, "small"), e.devAddr, small.devAddr, e.httpAddr, small.httpAddr).Replace(string(cfgText)))
	check(os.WriteFile(small.cfg, cfgText, 0o644))
	csvSmall := filepath.Join(dir, "small.csv")
	writeCatalog(csvSmall, 1000)
	out, err := exec.Command(e.bin, "catalog", "import", "--direct", csvSmall, "--data-dir", filepath.Join(dir, "small")).CombinedOutput()
	check(errOut(err, out))
	small.start()
	defer small.stop()
	base := small.rssMB()
	rss := small.idleSessions(*nSessions)
	fmt.Printf("  %-58s %8.0f MB   (target < 300 MB; %.0f MB before the sessions)\n", fmt.Sprintf("RSS with %d idle sessions heartbeating (1,000 goods)", *nSessions), rss, base)
}

func numCPU() int { n, _ := strconv.Atoi(strings.TrimSpace(run("nproc"))); return n }

// pinnedGeneratorCPU is the CPU -pin gives the lean generator: the last
// one, leaving the daemon at least one; -1 (no pinning) on one CPU.
func pinnedGeneratorCPU(cpus int) int {
	if cpus < 2 {
		return -1
	}
	return cpus - 1
}

// daemonCPUs is the taskset list of the CPUs below the generator's, "0"
// or "0-N".
func daemonCPUs(genCPU int) string {
	if genCPU <= 1 {
		return "0"
	}
	return fmt.Sprintf("0-%d", genCPU-1)
}

func run(name string, args ...string) string {
	out, _ := exec.Command(name, args...).Output()
	return string(out)
}

func figure(format string, args ...any) func(time.Duration, string) {
	return func(d time.Duration, target string) {
		fmt.Printf("  %-58s %10s   (%s)\n", fmt.Sprintf(format, args...), d.Round(time.Millisecond), target)
	}
}

var (
	check    = benchkit.Check
	freeAddr = benchkit.FreeAddr
)

func errOut(err error, out []byte) error {
	if err != nil {
		return fmt.Errorf("%v: %s", err, out)
	}
	return nil
}

func raiseNoFile() {
	var l syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l) == nil {
		l.Cur = l.Max
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
	}
}

func writeCatalog(path string, n int) { check(synth.WriteFile(path, catalogfile.FormatCSV, n)) }

func (e *env) start() time.Duration {
	var ready time.Duration
	cmd := exec.Command(e.bin, "run", "--config", e.cfg)
	if e.genCPU > 0 {
		cmd = exec.Command("taskset", "-c", daemonCPUs(e.genCPU), e.bin, "run", "--config", e.cfg)
	}
	if e.cgroupProcs != "" {
		// Join the cgroup before the daemon allocates anything.
		cmd = exec.Command("sh", "-c", `echo $$ > "$0" && exec "$@"`, e.cgroupProcs, e.bin, "run", "--config", e.cfg)
	}
	e.proc, ready = benchkit.StartDaemonCmd(cmd, e.httpAddr)
	return ready
}

func (e *env) stop() {
	benchkit.StopDaemon(e.proc)
	e.proc = nil
}

func (e *env) rssMB() float64 { return benchkit.RSSMB(e.proc.Process.Pid, "VmRSS:") }

// memoryFigure prints the daemon's resident memory split into anonymous
// (heap, index) and file-backed (bbolt's mapped pages) and the anonymous
// bytes per goods.
func (e *env) memoryFigure(nGoods int, when, target string) {
	pid := e.proc.Process.Pid
	anon, file, rss := benchkit.RSSMB(pid, "RssAnon:"), benchkit.RSSMB(pid, "RssFile:"), benchkit.RSSMB(pid, "VmRSS:")
	fmt.Printf("  %-58s anon %5.0f MB  file %5.0f MB  RSS %5.0f MB  %4.0f B/goods anon   (%s)\n",
		fmt.Sprintf("memory with %d goods, %s", nGoods, when), anon, file, rss, anon*(1<<20)/float64(nGoods), target)
}

// saveCPUProfile profiles the daemon's CPU for d (from now, in the
// background) into dir/cpu.pprof; the channel closes when it is written.
func (e *env) saveCPUProfile(dir string, d time.Duration) chan struct{} {
	check(os.MkdirAll(dir, 0o755))
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.fetchProfile(fmt.Sprintf("profile?seconds=%d", int(d.Seconds())), filepath.Join(dir, "cpu.pprof"))
	}()
	return done
}

// fetchProfile saves the daemon's /debug/pprof/<which> in path.
func (e *env) fetchProfile(which, path string) {
	req, _ := http.NewRequest("GET", "http://"+e.httpAddr+"/debug/pprof/"+which, nil)
	req.Header.Set("Authorization", "Bearer bench")
	resp, err := http.DefaultClient.Do(req)
	check(err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	check(err)
	check(os.WriteFile(path, b, 0o644))
}

// saveProfile writes the daemon's heap profile and smaps_rollup into dir.
func (e *env) saveProfile(dir string) {
	check(os.MkdirAll(dir, 0o755))
	e.fetchProfile("heap", filepath.Join(dir, "heap.pprof"))
	sm, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", e.proc.Process.Pid))
	check(err)
	check(os.WriteFile(filepath.Join(dir, "smaps_rollup"), sm, 0o644))
	fmt.Printf("  heap profile and smaps_rollup saved in %s\n", dir)
}

// smallerCatalog measures memory with an n-goods catalog: imported, the
// index built, then a getGoods load of d.
func (e *env) smallerCatalog(n int, d time.Duration) {
	data := filepath.Join(e.dir, fmt.Sprintf("g%d", n))
	csvPath := filepath.Join(e.dir, fmt.Sprintf("g%d.csv", n))
	writeCatalog(csvPath, n)
	out, err := exec.Command(e.bin, "catalog", "import", "--direct", csvPath, "--data-dir", data).CombinedOutput()
	check(errOut(err, out))
	os.Remove(csvPath)
	m := &env{bin: e.bin, dir: e.dir, cfg: filepath.Join(e.dir, fmt.Sprintf("g%d.toml", n)), devAddr: freeAddr(), httpAddr: freeAddr(), genCPU: -1}
	cfgText, _ := os.ReadFile(e.cfg)
	cfgText = []byte(regexp.MustCompile(`(?m)^data_dir = .*$`).ReplaceAllString(string(cfgText), fmt.Sprintf("data_dir = %q", data)))
	cfgText = []byte(strings.NewReplacer(e.devAddr, m.devAddr, e.httpAddr, m.httpAddr).Replace(string(cfgText)))
	check(os.WriteFile(m.cfg, cfgText, 0o644))
	m.start()
	defer m.stop()
	m.dial("B-warm").call(`{"head":{"action":"getGoods","seq":1},"body":{"gname":"牛奶"}}`)
	rng := rand.New(rand.NewSource(1))
	m.load(100, d, "getGoods", func(*rand.Rand) map[string]any {
		g, _ := synth.Goods(rng.Intn(n))
		return map[string]any{"code": g.Barcode}
	})
	m.memoryFigure(n, "after a getGoods load", "")
}

// conn is a logged-in length-framed device connection.
type conn struct {
	c  net.Conn
	fr *frame.Reader
	br *bufio.Writer
}

func (e *env) dial(id string) *conn {
	c, err := net.Dial("tcp", e.devAddr)
	check(err)
	cn := &conn{c: c, fr: frame.NewReader(c, 0), br: bufio.NewWriter(c)}
	cn.call(`{"head":{"action":"login","equipId":"` + id + `","seq":0},"body":{}}`)
	return cn
}

// callRaw sends an already framed request and returns the reply.
func (cn *conn) callRaw(req []byte) []byte {
	if _, err := cn.c.Write(req); err != nil {
		check(err)
	}
	for {
		p, err := cn.fr.Next()
		check(err)
		if !isHealthPush(p) {
			return p
		}
	}
}

func (cn *conn) call(msg string) []byte {
	cn.br.Write(frame.Append(nil, frame.ModeLength, []byte(msg)))
	check(cn.br.Flush())
	for {
		p, err := cn.fr.Next()
		check(err)
		if !isHealthPush(p) {
			return p
		}
	}
}

// load runs conns clients calling action back to back for d and returns
// the request rate and p99 latency.
func (e *env) load(conns int, d time.Duration, action string, body func(*rand.Rand) map[string]any) (float64, time.Duration) {
	var mu sync.Mutex
	var lat []time.Duration
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < conns; i++ {
		// Requests are encoded before the clock starts, so the load
		// generator, which shares the machine, spends its CPU on the
		// sockets rather than on building JSON.
		r := rand.New(rand.NewSource(int64(i)))
		reqs := make([][]byte, 512)
		for j := range reqs {
			b, _ := json.Marshal(map[string]any{"head": map[string]any{"action": action, "seq": 1}, "body": body(r)})
			reqs[j] = frame.Append(nil, frame.ModeLength, b)
		}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			cn := e.dial(fmt.Sprintf("B-%s-%d", action, i))
			defer cn.c.Close()
			local := make([]time.Duration, 0, 1<<16)
			deadline := start.Add(d)
			for j := 0; ; j++ {
				t := time.Now()
				if t.After(deadline) {
					break
				}
				reply := cn.callRaw(reqs[j%len(reqs)])
				local = append(local, time.Since(t))
				if !bytes.Contains(reply, []byte(`"exception":""`)) && !bytes.Contains(reply, []byte(`"code":"not_found"`)) {
					check(fmt.Errorf("%s failed: %s", action, reply))
				}
			}
			mu.Lock()
			lat = append(lat, local...)
			mu.Unlock()
		}(i)
	}
	wg.Wait()
	el := time.Since(start)
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	if len(lat) == 0 {
		return 0, 0
	}
	return float64(len(lat)) / el.Seconds(), lat[len(lat)*99/100]
}

// barcodeRequest is a framed getGoods for the barcode of a random one of
// the synthetic catalog's nGoods goods.
func barcodeRequest(r *rand.Rand, nGoods int) []byte {
	g, _ := synth.Goods(r.Intn(nGoods))
	return frame.Append(nil, frame.ModeLength, []byte(`{"head":{"action":"getGoods","seq":1},"body":{"code":"`+g.Barcode+`"}}`))
}

// barcodeRequests is connection i's list of framed getGoods requests,
// the same list on every run.
func barcodeRequests(i, nGoods int) [][]byte {
	r := rand.New(rand.NewSource(int64(i)))
	reqs := make([][]byte, 512)
	for j := range reqs {
		reqs[j] = barcodeRequest(r, nGoods)
	}
	return reqs
}

// isHealthPush reports whether a frame is the daemon's heartbeat rather
// than a reply.
func isHealthPush(p []byte) bool {
	return bytes.Contains(p[:min(len(p), 40)], []byte(`"action":"health"`))
}

// pacedResult is what a paced run measured.
type pacedResult struct {
	rate float64
	// svc is each request's own latency, from its write to its reply: what
	// a terminal waits after a scan.
	svcP50, svcP99 time.Duration
	// co is timed from when each request was due (as wrk2 does), so a
	// slow reply that holds back the requests due after it on the same
	// connection is charged to all of them (no coordinated omission), and
	// so is the generator's own late wake-up.
	coP99 time.Duration
}

// paced sends rate requests per second spread over conns connections, one
// in flight on each.
func (e *env) paced(conns, rate int, d time.Duration, nGoods int) pacedResult {
	interval := time.Duration(int64(time.Second) * int64(conns) / int64(rate))
	var mu sync.Mutex
	var svc, co []time.Duration
	var wg sync.WaitGroup
	var cns []*conn
	for i := 0; i < conns; i++ {
		cns = append(cns, e.dial(fmt.Sprintf("Q-%d", i)))
	}
	start := time.Now().Add(50 * time.Millisecond)
	deadline := start.Add(d)
	for i, cn := range cns {
		reqs := barcodeRequests(i, nGoods)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer cn.c.Close()
			n := int(d/interval) + 1
			svcLocal, coLocal := make([]time.Duration, 0, n), make([]time.Duration, 0, n)
			// Connections start spread over one interval, not in step.
			due := start.Add(interval * time.Duration(i) / time.Duration(conns))
			for j := 0; due.Before(deadline); j++ {
				if w := time.Until(due); w > 0 {
					time.Sleep(w)
				}
				sent := time.Now()
				reply := cn.callRaw(reqs[j%len(reqs)])
				now := time.Now()
				svcLocal = append(svcLocal, now.Sub(sent))
				coLocal = append(coLocal, now.Sub(due))
				if !bytes.Contains(reply, []byte(`"exception":""`)) {
					check(fmt.Errorf("getGoods failed: %s", reply))
				}
				due = due.Add(interval)
			}
			mu.Lock()
			svc = append(svc, svcLocal...)
			co = append(co, coLocal...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	el := time.Since(start)
	if len(svc) == 0 {
		return pacedResult{}
	}
	slices.Sort(svc)
	slices.Sort(co)
	return pacedResult{rate: float64(len(svc)) / el.Seconds(), svcP50: svc[len(svc)/2], svcP99: svc[len(svc)*99/100], coP99: co[len(co)*99/100]}
}

// cpuMeter prints, each time the returned func is called with the
// requests since the last call, the CPU each side spent per request: on a
// shared 2-core box the generator's share is the daemon's loss.
func (e *env) cpuMeter() func(requests float64) {
	d0, g0 := benchkit.CPUTime(e.proc.Process.Pid), benchkit.CPUTime(0)
	return func(requests float64) {
		d1, g1 := benchkit.CPUTime(e.proc.Process.Pid), benchkit.CPUTime(0)
		fmt.Printf("  %-58s daemon %5.1f µs, generator %5.1f µs\n", "  CPU per request (includes connection set-up)",
			float64((d1-d0).Microseconds())/requests, float64((g1-g0).Microseconds())/requests)
		d0, g0 = d1, g1
	}
}

// leanPaced runs and prints the lean generator's paced getGoods load.
func (e *env) leanPaced(conns int, d time.Duration, nGoods int, gen string, cpu func(float64)) {
	lr := e.lean(conns, 50000, d, nGoods)
	fmt.Printf("  %-58s %10.0f req/s   p99 %8s   p50 %8s   (%s; write to reply)\n", "getGoods by barcode, 100 connections, paced at 50,000 req/s", lr.Rate(), leangen.Quantile(lr.Service, 0.99), leangen.Quantile(lr.Service, 0.5), gen)
	fmt.Printf("  %-58s %10s         p99 %8s   (from when each request was due)\n", "  the same run, coordinated omission corrected", "", leangen.Quantile(lr.Due, 0.99))
	cpu(float64(lr.Replies))
}

// lean runs the getGoods load from test/bench/leangen: closed loop when
// rate is 0, else paced.
func (e *env) lean(conns, rate int, d time.Duration, nGoods int) leangen.Result {
	tcs := make([]*net.TCPConn, conns)
	reqs := make([][][]byte, conns)
	for i := range tcs {
		tcs[i] = e.dial(fmt.Sprintf("L-%d", i)).c.(*net.TCPConn)
		reqs[i] = barcodeRequests(i, nGoods)
	}
	res, err := leangen.Run(tcs, leangen.Config{
		Requests: reqs, Duration: d, Rate: rate, CPU: e.genCPU,
		Skip: isHealthPush,
		Check: func(f []byte) error {
			if !bytes.Contains(f, []byte(`"exception":""`)) {
				return fmt.Errorf("getGoods failed: %s", f)
			}
			return nil
		},
	})
	check(err)
	return res
}

// pipelined keeps depth requests in flight on each of conns connections
// (the protocol allows it: replies carry seq) and returns the reply rate.
func (e *env) pipelined(conns, depth int, d time.Duration, nGoods int) float64 {
	var total atomic.Int64
	var wg sync.WaitGroup
	deadline := time.Now().Add(d)
	start := time.Now()
	for i := 0; i < conns; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			cn := e.dial(fmt.Sprintf("P-%d", i))
			defer cn.c.Close()
			r := rand.New(rand.NewSource(int64(i)))
			msg := func() []byte { return barcodeRequest(r, nGoods) }
			for j := 0; j < depth; j++ {
				cn.br.Write(msg())
			}
			check(cn.br.Flush())
			for time.Now().Before(deadline) {
				if _, err := cn.fr.Next(); err != nil {
					check(err)
				}
				total.Add(1)
				cn.br.Write(msg())
				if cn.fr.HasFrame() {
					continue // more replies already here: batch the requests too
				}
				check(cn.br.Flush())
			}
		}(i)
	}
	wg.Wait()
	return float64(total.Load()) / time.Since(start).Seconds()
}

// idleSessions logs n sessions in, keeps them answering heartbeats, and
// reads the daemon's RSS.
func (e *env) idleSessions(n int) float64 {
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := 0; i < n; i++ {
		c, err := net.Dial("tcp", e.devAddr)
		check(err)
		conns = append(conns, c)
		c.Write([]byte(`{"head":{"action":"login","equipId":"IDLE-` + strconv.Itoa(i) + `"},"body":{}}` + "\n"))
		go func(c net.Conn) {
			sc := bufio.NewScanner(c)
			for sc.Scan() {
				if strings.Contains(sc.Text(), `"action":"health"`) {
					c.Write([]byte(`{"head":{"action":"healthReturn"},"body":{}}` + "\n"))
				}
			}
		}(c)
	}
	time.Sleep(3 * time.Second)
	return e.rssMB()
}
