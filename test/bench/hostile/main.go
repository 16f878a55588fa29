//go:build linux

// Command hostile measures the daemon under the attacks of a hostile store
// LAN (issue 19), each while devices call getGoods at a steady pace: a
// pending-login flood, 5,000 idle HTTP connections, a 200 packets/s
// hostile mDNS stream and a wrong-token spray from one IPv6 /64. It prints
// getGoods p99 during each against the quiet phases just before and after
// it, over -rounds rounds (every phase raw, then medians), the daemon's RSS
// and CPU, and mDNS bytes sent per byte received. It asserts nothing.
//
// The attackers are closed loops (a worker's next connection follows the
// answer or close of its last), so a daemon that refuses more slowly also
// meets fewer connections: compare the counts each phase prints. They run
// on the same cores as the daemon; nice does not lower the kernel's
// loopback TCP work they cause.
//
// It needs root: it runs itself again inside a network namespace of its
// own (hostile-netbench…) holding loopback, a veth pair for mDNS and a local route for a whole /64, and removes it at the end.
package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/net/ipv4"

	"github.com/storebox/storebox/protocol/catalogfile"
	"github.com/storebox/storebox/protocol/catalogfile/synth"
	"github.com/storebox/storebox/protocol/frame"
	"github.com/storebox/storebox/test/bench/benchkit"
)

const (
	innerEnv = "STOREBOX_HOSTILE_BENCH_NS"
	dummy    = "hostile-net0" // a veth end: the LAN interface mDNS answers on
	dummyIP  = "10.99.0.1"
	slash64  = "fd99:1:2:3::/64"
	floodIP  = "127.0.3.1" // the pending-login flood's host
	loadN    = 4           // getGoods connections

	adminToken = "the-right-token-is-long-enough-0123456789"
)

var (
	bin    = flag.String("bin", "bin/storebox", "storebox binary")
	phase  = flag.Duration("phase", 6*time.Second, "length of each phase")
	rounds = flag.Int("rounds", 3, "rounds of quiet and attack phases")
	nGoods = flag.Int("goods", 10000, "catalog size")
	pace   = flag.Duration("pace", 4*time.Millisecond, "interval between one connection's getGoods requests")

	// An attack runs in a process of its own at the lowest CPU priority,
	// as if from another host: its own CPU does not slow the daemon or
	// the getGoods client down, only what it makes the daemon do.
	attackName = flag.String("attack", "", "internal: run this attack (flood, idle, mdns, spray) against -pid, -dev, -http")
	attackPid  = flag.Int("pid", 0, "internal: the daemon's pid")
	attackDev  = flag.String("dev", "", "internal: the device address")
	attackHTTP = flag.String("http", "", "internal: the HTTP port")

	profileDir = flag.String("profile", "", "save the daemon's CPU profile of each phase in this directory")
)

func main() {
	flag.Parse()
	if os.Getenv(innerEnv) == "" {
		os.Exit(outer())
	}
	if *attackName != "" {
		runAttack()
		return
	}
	inner()
}

func (e *env) attacks() map[string]attack {
	return map[string]attack{"flood": e.pendingFlood, "idle": e.idleHTTP, "mdns": e.mdnsStream, "spray": e.tokenSpray}
}

// runAttack is the attacking process: it says READY once under way, runs
// until SIGINT and prints its REPORT line.
func runAttack() {
	e := &env{pid: *attackPid, devAddr: *attackDev, httpPort: *attackHTTP}
	a := e.attacks()[*attackName]
	if a == nil {
		benchkit.Check(fmt.Errorf("no attack %q", *attackName))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var once sync.Once
	report := a(ctx, func() { once.Do(func() { fmt.Println("READY") }) })
	fmt.Println("REPORT " + report)
}

// outer makes the namespace, runs the bench in it and removes it.
func outer() int {
	if os.Geteuid() != 0 {
		fmt.Println("hostile LAN bench: needs root (a network namespace of its own); skipped")
		return 0
	}
	ns := fmt.Sprintf("hostile-netbench%d", os.Getpid()%1000)
	run := func(args ...string) {
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			exec.Command("ip", "netns", "del", ns).Run()
			benchkit.Check(fmt.Errorf("%s: %v: %s", strings.Join(args, " "), err, out))
		}
	}
	run("ip", "netns", "add", ns)
	defer exec.Command("ip", "netns", "del", ns).Run()
	for _, c := range [][]string{
		{"ip", "link", "set", "lo", "up"},
		{"ip", "link", "add", dummy, "type", "veth", "peer", "name", dummy + "p"},
		{"ip", "link", "set", dummy + "p", "up"},
		{"ip", "link", "set", dummy, "up"},
		{"ip", "addr", "add", dummyIP + "/24", "dev", dummy},
		{"ip", "route", "add", "224.0.0.0/4", "dev", dummy},
		// Every address of the /64 is this host's, for the token spray.
		{"ip", "-6", "route", "add", "local", slash64, "dev", "lo"},
		{"sysctl", "-qw", "net.ipv6.ip_nonlocal_bind=1"},
	} {
		run(append([]string{"ip", "netns", "exec", ns}, c...)...)
	}
	self, err := os.Executable()
	benchkit.Check(err)
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns, self}, os.Args[1:]...)...)
	cmd.Env = append(os.Environ(), innerEnv+"=1")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "hostile LAN bench:", err)
		return 1
	}
	return 0
}

type env struct {
	pid      int
	devAddr  string // 127.0.0.1:port
	httpPort string
	barcodes []string
	load     []*loadConn
}

func inner() {
	var l syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l) == nil && l.Max < 16384 {
		l.Max = 16384
	}
	l.Cur = l.Max
	benchkit.Check(syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)) // the daemon inherits it: 5,000 connections need it
	dir, err := os.MkdirTemp("", "storebox-hostile-")
	benchkit.Check(err)
	defer os.RemoveAll(dir)
	data := filepath.Join(dir, "data")
	csvPath := filepath.Join(dir, "catalog.csv")
	e := &env{}
	writeCatalog(csvPath, *nGoods, e)
	out, err := exec.Command(*bin, "catalog", "import", "--direct", csvPath, "--data-dir", data).CombinedOutput()
	benchkit.Check(errOut(err, out))

	devPort, httpPort := port(), port()
	e.devAddr, e.httpPort = "127.0.0.1:"+devPort, httpPort
	var approve []string
	for i := 0; i < loadN; i++ {
		approve = append(approve, fmt.Sprintf("%q", fmt.Sprintf("B-%d", i)))
	}
	cfg := filepath.Join(dir, "storebox.toml")
	benchkit.Check(os.WriteFile(cfg, []byte(fmt.Sprintf(`store_id = "hostile"
store_name = "Hostile LAN"
data_dir = %q
[log]
level = "warn"
[devices]
listen = "0.0.0.0:%s"
admission = "pairing"
approve = [%s]
[discovery]
listen = "0.0.0.0:%s"
mdns = true
[mqtt]
listen = ""
[http]
listen = "[::]:%s"
admin_token = %q
`, data, devPort, strings.Join(approve, ", "), devPort, httpPort, adminToken)), 0o644))
	d, _ := benchkit.StartDaemon(*bin, cfg, "127.0.0.1:"+httpPort)
	defer benchkit.StopDaemon(d)
	e.pid = d.Process.Pid
	time.Sleep(2500 * time.Millisecond) // the mDNS announcements are over

	e.connectLoad()
	fmt.Printf("hostile LAN (issue 19): getGoods paced every %v on %d connections (%d/s), %v per phase, %d goods, %d rounds\n",
		*pace, loadN, int(float64(loadN)*float64(time.Second)/float64(*pace)), *phase, *nGoods, *rounds)
	fmt.Println("  (each attack runs in a process of its own at nice 19, as if from another host; the getGoods")
	fmt.Println("  connections stay open throughout, as a till's does. Each round is quiet, then each attack")
	fmt.Println("  followed by quiet; an attack's ratio is its p99 over the mean p99 of the quiet phases just")
	fmt.Println("  before and after it, so the machine's drift is not counted as the attack's)")
	attacks := []struct{ name, attack string }{
		{"pending-login flood (new equipId per login, 128 B names)", "flood"},
		{"5,000 idle HTTP connections (50 per address)", "idle"},
		{"hostile mDNS stream, 200 packets/s", "mdns"},
		{"wrong-token spray from one IPv6 /64", "spray"},
	}
	results := make([][]phaseResult, len(attacks))
	var quiets []phaseResult
	for r := 1; r <= *rounds; r++ {
		fmt.Printf("  round %d\n", r)
		before := e.phase("quiet", "")
		quiets = append(quiets, before)
		for i, a := range attacks {
			res := e.phase(a.name, a.attack)
			after := e.phase("quiet", "")
			quiets = append(quiets, after)
			res.ratio = float64(res.p99) / ((float64(before.p99) + float64(after.p99)) / 2)
			fmt.Printf("  %-58s → %.1f× the quiet around it (%s, %s)\n", "", res.ratio, before.p99.Round(10*time.Microsecond), after.p99.Round(10*time.Microsecond))
			results[i] = append(results[i], res)
			before = after
		}
	}
	fmt.Printf("  summary over %d rounds (median; min–max)\n", *rounds)
	qp := durations(quiets, func(p phaseResult) float64 { return float64(p.p99) })
	fmt.Printf("  %-58s getGoods p99 %s (%s–%s) over %d quiet phases; daemon CPU %.0f%%\n", "quiet", time.Duration(median(qp)).Round(10*time.Microsecond),
		time.Duration(qp[0]).Round(10*time.Microsecond), time.Duration(qp[len(qp)-1]).Round(10*time.Microsecond), len(quiets),
		median(durations(quiets, func(p phaseResult) float64 { return p.cpu })))
	for i, a := range attacks {
		ratios := durations(results[i], func(p phaseResult) float64 { return p.ratio })
		p99s := durations(results[i], func(p phaseResult) float64 { return float64(p.p99) })
		fmt.Printf("  %-58s getGoods p99 %s, %.1f× quiet (%.1f–%.1f; goal ≤ 2×); daemon CPU %.0f%%, RSS %.0f MB\n", a.name,
			time.Duration(median(p99s)).Round(10*time.Microsecond), median(ratios), ratios[0], ratios[len(ratios)-1],
			median(durations(results[i], func(p phaseResult) float64 { return p.cpu })),
			median(durations(results[i], func(p phaseResult) float64 { return p.rss })))
	}
	fmt.Printf("  %-58s %8.0f MB   (goal < 300 MB)\n", "daemon peak RSS (VmHWM) over all phases", benchkit.RSSMB(e.pid, "VmHWM:"))
}

// phaseResult is what one phase measured.
type phaseResult struct {
	p99      time.Duration
	cpu, rss float64
	ratio    float64 // p99 over the quiet phases' around it (attacks)
}

// durations returns f of each result, sorted.
func durations(rs []phaseResult, f func(phaseResult) float64) []float64 {
	out := make([]float64, len(rs))
	for i, r := range rs {
		out[i] = f(r)
	}
	sort.Float64s(out)
	return out
}

func median(sorted []float64) float64 {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

// attack runs until ctx ends and reports what it did; it calls ready once
// it is under way (connections opened, sockets bound).
type attack func(ctx context.Context, ready func()) string

// phase starts attack (none: ""), then runs getGoods for the phase and
// stops the attack; it prints getGoods p99 and p50, the daemon's CPU and
// RSS over the phase and what the attack reports.
func (e *env) phase(name string, attackName string) phaseResult {
	report, ready := make(chan string, 1), make(chan struct{})
	stop := func() {}
	if attackName != "" {
		self, err := os.Executable()
		benchkit.Check(err)
		cmd := exec.Command("nice", "-n", "19", self, "-attack", attackName, "-pid", fmt.Sprint(e.pid), "-dev", e.devAddr, "-http", e.httpPort)
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		benchkit.Check(err)
		benchkit.Check(cmd.Start())
		go func() {
			sc := bufio.NewScanner(out)
			note := "attack ended without a report"
			for sc.Scan() {
				switch line := sc.Text(); {
				case line == "READY":
					close(ready)
				case strings.HasPrefix(line, "REPORT "):
					note = strings.TrimPrefix(line, "REPORT ")
				}
			}
			cmd.Wait()
			report <- note
		}()
		select {
		case <-ready:
		case <-time.After(2 * time.Minute):
		}
		stop = func() { cmd.Process.Signal(os.Interrupt) }
	} else {
		report <- ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), *phase)
	defer cancel()
	prof := make(chan struct{})
	if *profileDir != "" {
		go func() { defer close(prof); e.saveProfile(attackName, *phase-time.Second) }()
	} else {
		close(prof)
	}
	cpu0, t0 := benchkit.CPUTime(e.pid), time.Now()
	p50, p99, n := e.getGoods(ctx)
	<-prof
	cpu := float64(benchkit.CPUTime(e.pid)-cpu0) / float64(time.Since(t0)) * 100
	rss := benchkit.RSSMB(e.pid, "VmRSS:")
	stop()
	note := <-report
	fmt.Printf("  %-58s getGoods p99 %7s, p50 %s, %d calls; daemon CPU %.0f%%, RSS %.0f MB\n", name, p99.Round(10*time.Microsecond), p50.Round(10*time.Microsecond), n, cpu, rss)
	if note != "" {
		fmt.Printf("  %-58s %s\n", "", note)
	}
	return phaseResult{p99: p99, cpu: cpu, rss: rss}
}

// loadConn is one approved device's connection for the getGoods load.
type loadConn struct {
	c  net.Conn
	fr *frame.Reader
}

// call sends msg and returns the reply, skipping heartbeats.
func (l *loadConn) call(msg string) []byte {
	_, err := l.c.Write(frame.Append(nil, frame.ModeLength, []byte(msg)))
	benchkit.Check(err)
	for {
		p, err := l.fr.Next()
		benchkit.Check(err)
		if !bytes.Contains(p[:min(len(p), 40)], []byte(`"action":"health"`)) {
			return p
		}
	}
}

// connectLoad logs loadN approved devices in, once: a till keeps its
// connection, so the attacks meet sessions that are already open.
func (e *env) connectLoad() {
	for i := 0; i < loadN; i++ {
		c, err := net.Dial("tcp", e.devAddr)
		benchkit.Check(err)
		l := &loadConn{c: c, fr: frame.NewReader(c, 0)}
		if r := l.call(fmt.Sprintf(`{"head":{"action":"login","equipId":"B-%d","seq":0},"body":{}}`, i)); !bytes.Contains(r, []byte(`"exception":""`)) {
			benchkit.Check(fmt.Errorf("load device login: %s", r))
		}
		e.load = append(e.load, l)
	}
}

// getGoods calls getGoods on the loadN connections, each every pace,
// until ctx ends; it returns p50 and p99 of the replies' latency.
func (e *env) getGoods(ctx context.Context) (p50, p99 time.Duration, n int) {
	var mu sync.Mutex
	var lat []time.Duration
	var wg sync.WaitGroup
	for i, l := range e.load {
		wg.Add(1)
		go func(i int, l *loadConn) {
			defer wg.Done()
			r := rand.New(rand.NewSource(time.Now().UnixNano() + int64(i)))
			local := make([]time.Duration, 0, 4096)
			tick := time.NewTicker(*pace)
			defer tick.Stop()
			for {
				select {
				case <-ctx.Done():
					mu.Lock()
					lat = append(lat, local...)
					mu.Unlock()
					return
				case <-tick.C:
				}
				t := time.Now()
				reply := l.call(`{"head":{"action":"getGoods","seq":1},"body":{"code":"` + e.barcodes[r.Intn(len(e.barcodes))] + `"}}`)
				local = append(local, time.Since(t))
				if !bytes.Contains(reply, []byte(`"exception":""`)) {
					benchkit.Check(fmt.Errorf("getGoods: %s", reply))
				}
			}
		}(i, l)
	}
	wg.Wait()
	if len(lat) == 0 {
		return 0, 0, 0
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return lat[len(lat)/2], lat[len(lat)*99/100], len(lat)
}

// pendingFlood logs in new equipIds as fast as 8 connections can, each
// with a 128-byte name and mac_id, under admission "pairing", from one
// address of its own (floodIP), as a host on the LAN would.
func (e *env) pendingFlood(ctx context.Context, ready func()) string {
	ready()
	var logins, pending, busy, other, closed atomic.Int64
	var wg sync.WaitGroup
	name := strings.Repeat("n", 128)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(floodIP)}, Timeout: 5 * time.Second}
				c, err := d.Dial("tcp", e.devAddr)
				if err != nil {
					continue
				}
				c.SetDeadline(time.Now().Add(5 * time.Second))
				id := fmt.Sprintf("FLOOD-%d-%d-%d", time.Now().UnixNano()%1e6, w, i)
				c.Write(frame.Append(nil, frame.ModeLength, []byte(fmt.Sprintf(`{"head":{"action":"login","equipId":%q,"seq":0},"body":{"name":%q,"mac_id":%q}}`, id, name, id))))
				p, err := frame.NewReader(c, 0).Next()
				c.Close()
				if err != nil {
					closed.Add(1)
					continue
				}
				logins.Add(1)
				switch {
				case bytes.Contains(p, []byte("pending_approval")):
					pending.Add(1)
				case bytes.Contains(p, []byte(`"busy"`)):
					busy.Add(1)
				default:
					other.Add(1)
				}
			}
		}(w)
	}
	wg.Wait()
	return fmt.Sprintf("%d logins answered: %d recorded pending, %d refused busy (pending cap or rate), %d other; %d connections closed unanswered",
		logins.Load(), pending.Load(), busy.Load(), other.Load(), closed.Load())
}

// idleHTTP opens 5,000 connections to the HTTP port from 100 loopback
// addresses (under the per-address cap) and holds them, sending nothing.
func (e *env) idleHTTP(ctx context.Context, ready func()) string {
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	failed := 0
	for i := 0; i < 5000 && ctx.Err() == nil; i++ {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 2, byte(i/50+1))}, Timeout: 5 * time.Second}
		c, err := d.Dial("tcp", "127.0.0.1:"+e.httpPort)
		if err != nil {
			failed++
			continue
		}
		conns = append(conns, c)
	}
	time.Sleep(time.Second)
	ready()
	fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", e.pid))
	open := len(fds)
	rss := benchkit.RSSMB(e.pid, "VmRSS:")
	// A fresh client meanwhile.
	hc := &http.Client{Timeout: 5 * time.Second}
	status := "no answer"
	t := time.Now()
	if r, err := hc.Get("http://127.0.0.1:" + e.httpPort + "/healthz"); err == nil {
		status = fmt.Sprintf("%d in %v", r.StatusCode, time.Since(t).Round(100*time.Microsecond))
		r.Body.Close()
	}
	<-ctx.Done()
	return fmt.Sprintf("%d connections held (%d failed); daemon descriptors %d, RSS %.0f MB while held; /healthz from a fresh client: %s", len(conns), failed, open, rss, status)
}

// mdnsStream sends 200 packets a second at the responder on the veth:
// 200 copies of a question by legacy unicast, 9 KB packets of 700
// questions for the host and ~290 of its A records as known answers, QU
// and QM browses, ANY for the host. It counts what comes back, unicast
// and multicast.
func (e *env) mdnsStream(ctx context.Context, ready func()) string {
	ifi, err := net.InterfaceByName(dummy)
	benchkit.Check(err)
	legacy, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(dummyIP)})
	benchkit.Check(err)
	defer legacy.Close()
	ipv4.NewPacketConn(legacy).SetMulticastInterface(ifi)
	group, err := net.ListenMulticastUDP("udp4", ifi, &net.UDPAddr{IP: net.IPv4(224, 0, 0, 251), Port: 5353})
	benchkit.Check(err)
	defer group.Close()
	gp := ipv4.NewPacketConn(group)
	gp.SetMulticastInterface(ifi)
	gp.SetMulticastLoopback(true)
	to := &net.UDPAddr{IP: net.IPv4(224, 0, 0, 251), Port: 5353}

	host := hostTarget(legacy, to)
	instance := `Hostile\ LAN._storebox._tcp.local.`
	pack := func(m *dns.Msg) []byte { b, err := m.Pack(); benchkit.Check(err); return b }
	repeated := new(dns.Msg)
	for i := 0; i < 200; i++ {
		repeated.Question = append(repeated.Question, dns.Question{Name: instance, Qtype: dns.TypeANY, Qclass: dns.ClassINET})
	}
	// 700 questions for the host and as many of its A records as known
	// answers as fit in 9 KB: quadratic known-answer suppression's worst.
	big := new(dns.Msg)
	big.Compress = true
	for i := 0; i < 700; i++ {
		big.Question = append(big.Question, dns.Question{Name: host, Qtype: dns.TypeANY, Qclass: dns.ClassINET})
	}
	for i := 0; big.Len() < 8900; i++ {
		big.Answer = append(big.Answer, &dns.A{Hdr: dns.RR_Header{Name: host, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 10}, A: net.IPv4(10, 0, byte(i>>8), byte(i)).To4()})
	}
	qu := new(dns.Msg)
	qu.Question = []dns.Question{{Name: "_storebox._tcp.local.", Qtype: dns.TypePTR, Qclass: dns.ClassINET | 1<<15}}
	qm := new(dns.Msg)
	qm.Question = []dns.Question{{Name: "_storebox._tcp.local.", Qtype: dns.TypePTR, Qclass: dns.ClassINET}}
	anyQ := new(dns.Msg)
	anyQ.Question = []dns.Question{{Name: host, Qtype: dns.TypeANY, Qclass: dns.ClassINET}}
	type shot struct {
		c *net.UDPConn
		b []byte
	}
	shots := []shot{{legacy, pack(repeated)}, {group, pack(big)}, {group, pack(qu)}, {group, pack(qm)}, {legacy, pack(anyQ)}}

	var recv, replies, maxReply atomic.Int64
	count := func(c *net.UDPConn) {
		buf := make([]byte, 65536)
		for {
			n, _, err := c.ReadFromUDP(buf)
			if err != nil {
				return
			}
			var m dns.Msg
			if m.Unpack(buf[:n]) == nil && m.Response {
				recv.Add(int64(n))
				replies.Add(1)
				for old := maxReply.Load(); int64(n) > old && !maxReply.CompareAndSwap(old, int64(n)); old = maxReply.Load() {
				}
			}
		}
	}
	go count(legacy)
	go count(group)
	ready()
	start := time.Now()
	var sent, packets int64
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ctx.Err() == nil; i++ {
		<-tick.C
		s := shots[i%len(shots)]
		if _, err := s.c.WriteToUDP(s.b, to); err == nil {
			sent += int64(len(s.b))
			packets++
		}
	}
	took := time.Since(start)
	time.Sleep(1500 * time.Millisecond) // held answers and stragglers
	return fmt.Sprintf("%d packets (%.0f/s), %d B sent; %d replies, %d B received: %.2f B sent by mDNS per B received (goal ≤ 10); largest reply %d B",
		packets, float64(packets)/took.Seconds(), sent, replies.Load(), recv.Load(), float64(recv.Load())/float64(max(sent, 1)), maxReply.Load())
}

// hostTarget asks the responder for its SRV target (the host name A/AAAA
// answer for).
func hostTarget(c *net.UDPConn, to *net.UDPAddr) string {
	q := new(dns.Msg)
	q.Id = 9
	q.Question = []dns.Question{{Name: "Hostile\\ LAN._storebox._tcp.local.", Qtype: dns.TypeSRV, Qclass: dns.ClassINET}}
	b, _ := q.Pack()
	buf := make([]byte, 9000)
	for try := 0; try < 5; try++ {
		c.WriteToUDP(b, to)
		c.SetReadDeadline(time.Now().Add(time.Second))
		n, _, err := c.ReadFromUDP(buf)
		if err != nil {
			continue
		}
		var m dns.Msg
		if m.Unpack(buf[:n]) == nil {
			for _, rr := range m.Answer {
				if srv, ok := rr.(*dns.SRV); ok {
					c.SetReadDeadline(time.Time{})
					return srv.Target
				}
			}
		}
	}
	c.SetReadDeadline(time.Time{})
	return "storebox.local."
}

// tokenSpray sends wrong admin tokens from random addresses of one /64,
// a new connection (and address) per guess, from 16 workers.
func (e *env) tokenSpray(ctx context.Context, ready func()) string {
	ready()
	var tries, evaluated, limited, closed, other atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			r := rand.New(rand.NewSource(int64(w)))
			for ctx.Err() == nil {
				ip := net.ParseIP("fd99:1:2:3::")
				for i := 8; i < 16; i++ {
					ip[i] = byte(r.Intn(256))
				}
				d := net.Dialer{LocalAddr: &net.TCPAddr{IP: ip}, Timeout: 5 * time.Second}
				c, err := d.Dial("tcp", "[::1]:"+e.httpPort)
				if err != nil {
					other.Add(1)
					continue
				}
				c.SetDeadline(time.Now().Add(5 * time.Second))
				fmt.Fprintf(c, "GET /api/v1/status HTTP/1.1\r\nHost: box\r\nAuthorization: Bearer wrong-%d\r\nConnection: close\r\n\r\n", r.Int())
				resp, err := http.ReadResponse(bufio.NewReader(c), nil)
				tries.Add(1)
				switch {
				case err != nil:
					closed.Add(1)
				case resp.StatusCode == http.StatusUnauthorized:
					evaluated.Add(1)
				case resp.StatusCode == http.StatusTooManyRequests:
					limited.Add(1)
				default:
					other.Add(1)
				}
				if resp != nil {
					io.Copy(io.Discard, resp.Body)
				}
				c.Close()
			}
		}(w)
	}
	wg.Wait()
	return fmt.Sprintf("%d wrong tokens, each from a random address of %s: %d evaluated (401), %d refused (429), %d closed unanswered, %d other",
		tries.Load(), slash64, evaluated.Load(), limited.Load(), closed.Load(), other.Load())
}

// saveProfile saves the daemon's CPU profile over d in -profile's
// directory, named after the phase's attack.
func (e *env) saveProfile(name string, d time.Duration) {
	if name == "" {
		name = "quiet"
	}
	benchkit.Check(os.MkdirAll(*profileDir, 0o755))
	req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%s/debug/pprof/profile?seconds=%d", e.httpPort, int(d.Seconds())), nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	benchkit.Check(err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	benchkit.Check(err)
	benchkit.Check(os.WriteFile(filepath.Join(*profileDir, name+".pprof"), b, 0o644))
}

// writeCatalog writes n synthetic goods and keeps up to 4,096 of their
// barcodes for the load.
func writeCatalog(path string, n int, e *env) {
	benchkit.Check(synth.WriteFile(path, catalogfile.FormatCSV, n))
	for i := 0; i < n && len(e.barcodes) < 4096; i++ {
		if g, _ := synth.Goods(i); g.Barcode != "" {
			e.barcodes = append(e.barcodes, g.Barcode)
		}
	}
}

func port() string {
	a := benchkit.FreeAddr()
	return a[strings.LastIndexByte(a, ':')+1:]
}

func errOut(err error, out []byte) error {
	if err != nil {
		return fmt.Errorf("%w: %s", err, out)
	}
	return nil
}
