package discovery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	wire "github.com/storebox/storebox/protocol/discovery"
	"github.com/storebox/storebox/test/testenv"
)

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

func testConfig(listen string) Config {
	return Config{
		Listen:     listen,
		StoreID:    "S-42",
		StoreName:  "Corner Shop",
		Version:    "1.2.3",
		DevicePort: 8686,
		MQTTPort:   1883,
		HTTPPort:   8680,
	}
}

// serve starts s and stops it at cleanup, checking Serve returned nil.
func serve(t *testing.T, s *Service) {
	t.Helper()
	if err := s.Bind(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve returned %v after cancel, want nil", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Serve did not return after cancel")
		}
	})
}

func startService(t *testing.T, cfg Config) (*Service, netip.AddrPort) {
	t.Helper()
	s, err := New(cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	serve(t, s)
	return s, s.Addrs()[0]
}

func client(t testing.TB, ip string) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(ip)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func sendTo(t *testing.T, c *net.UDPConn, to netip.AddrPort, b []byte) {
	t.Helper()
	if _, err := c.WriteToUDPAddrPort(b, to); err != nil {
		t.Fatalf("send to %s: %v", to, err)
	}
}

func probe(t testing.TB) []byte {
	t.Helper()
	b, err := wire.Probe{EquipID: "T-01", Kind: "terminal"}.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// readAnswer waits up to d for one datagram; ok is false on timeout.
func readAnswer(t *testing.T, c *net.UDPConn, d time.Duration) (a wire.Answer, from netip.AddrPort, ok bool) {
	t.Helper()
	buf := make([]byte, 64*1024)
	c.SetReadDeadline(time.Now().Add(d))
	n, from, err := c.ReadFromUDPAddrPort(buf)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return a, from, false
		}
		t.Fatal(err)
	}
	a, err = wire.ParseAnswer(buf[:n])
	if err != nil {
		t.Fatalf("answer %q: %v", buf[:n], err)
	}
	return a, from, true
}

// waitStats polls until cond holds; the counters make "ignored" observable
// without sleeping and hoping.
func waitStats(t *testing.T, s *Service, what string, cond func(Stats) bool) {
	t.Helper()
	testenv.Eventually(t, what, func() bool { return cond(s.Stats()) })
}

func TestAnswer(t *testing.T) {
	_, addr := startService(t, testConfig("127.0.0.1:0"))
	c := client(t, "127.0.0.1")
	sendTo(t, c, addr, probe(t))
	a, from, ok := readAnswer(t, c, 10*time.Second)
	if !ok {
		t.Fatal("no answer")
	}
	want := wire.Answer{Action: "discoverReturn", StoreID: "S-42", Name: "Corner Shop", Host: "127.0.0.1", Port: 8686, MQTTPort: 1883, HTTPPort: 8680, Version: "1.2.3"}
	if a != want {
		t.Fatalf("answer %+v\nwant   %+v", a, want)
	}
	if from != addr {
		t.Fatalf("answer came from %s, want %s", from, addr)
	}
}

// localIPv4s returns this host's non-loopback IPv4 addresses.
func localIPv4s(t *testing.T) []netip.Addr {
	var out []netip.Addr
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok {
			ip, _ := netip.AddrFromSlice(ipn.IP)
			if ip = ip.Unmap(); ip.Is4() && !ip.IsLoopback() {
				out = append(out, ip)
			}
		}
	}
	return out
}

// TestAnswerHostWildcard checks that on a wildcard socket the announced
// host is the address the probe reached, learned from packet info per
// datagram, and for a broadcast the receiving interface's address.
func TestAnswerHostWildcard(t *testing.T) {
	if runtime.GOOS == "windows" {
		// golang.org/x/net reads no packet info on Windows: a wildcard
		// socket answers with the routing table's source address, not the
		// address probed (and a dual-stack client cannot broadcast).
		t.Skip("no per-datagram destination address on Windows")
	}
	s, err := New(testConfig(":0"), testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	serve(t, s)
	bound := s.Addrs()
	port := bound[0].Port()

	cases := []struct{ to, host, from string }{
		{"127.0.0.1", "127.0.0.1", "127.0.0.1"},
		// All of 127/8 is local: the probed address is announced and the
		// answer comes from it.
		{"127.0.0.5", "127.0.0.5", "127.0.0.5"},
		// A broadcast names no address of ours: the interface's address in
		// the source's subnet is announced.
		{"127.255.255.255", "127.0.0.1", ""},
	}
	for _, ip := range localIPv4s(t) {
		cases = append(cases, struct{ to, host, from string }{ip.String(), ip.String(), ip.String()})
	}
	for _, tc := range cases {
		t.Run(tc.to, func(t *testing.T) {
			c := client(t, "0.0.0.0")
			sendTo(t, c, netip.AddrPortFrom(netip.MustParseAddr(tc.to), port), probe(t))
			a, from, ok := readAnswer(t, c, 10*time.Second)
			if !ok {
				t.Fatal("no answer")
			}
			if a.Host != tc.host {
				t.Fatalf("host %q, want %q", a.Host, tc.host)
			}
			if tc.from != "" && from.Addr().Unmap().String() != tc.from {
				t.Fatalf("answer from %s, want %s", from, tc.from)
			}
		})
	}
	// Broadcasts over a real interface: the directed broadcast of each local
	// IPv4 subnet announces our address in it; the limited broadcast (out
	// the default route) one of our addresses, never a broadcast address.
	ifaces, _ := net.Interfaces()
	for _, ifi := range ifaces {
		if ifi.Flags&net.FlagUp == 0 || ifi.Flags&net.FlagBroadcast == 0 {
			continue
		}
		addrs, _ := ifi.Addrs()
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			ones, _ := ipn.Mask.Size()
			ip, _ := netip.AddrFromSlice(ipn.IP)
			if !ok || !ip.Unmap().Is4() || ones >= 31 {
				continue
			}
			bc := lastAddr(netip.PrefixFrom(ip.Unmap(), ones))
			t.Run(bc.String(), func(t *testing.T) {
				c := client(t, "0.0.0.0")
				sendTo(t, c, netip.AddrPortFrom(bc, port), probe(t))
				a, _, ok := readAnswer(t, c, 10*time.Second)
				if !ok {
					t.Fatal("no answer")
				}
				if a.Host != ip.Unmap().String() {
					t.Fatalf("host %q, want %s", a.Host, ip.Unmap())
				}
			})
		}
	}
	if locals := localIPv4s(t); len(locals) > 0 {
		t.Run("255.255.255.255", func(t *testing.T) {
			c := client(t, "0.0.0.0")
			if _, err := c.WriteToUDPAddrPort(probe(t), netip.AddrPortFrom(netip.AddrFrom4([4]byte{255, 255, 255, 255}), port)); err != nil {
				t.Skipf("no broadcast route: %v", err)
			}
			a, _, ok := readAnswer(t, c, 10*time.Second)
			if !ok {
				t.Fatal("no answer")
			}
			if h, err := netip.ParseAddr(a.Host); err != nil || !slices.Contains(locals, h) {
				t.Fatalf("host %q is not one of our addresses %v", a.Host, locals)
			}
		})
	}
	if len(bound) > 1 {
		t.Run("::1", func(t *testing.T) {
			c := client(t, "::1")
			sendTo(t, c, netip.AddrPortFrom(netip.IPv6Loopback(), port), probe(t))
			a, _, ok := readAnswer(t, c, 10*time.Second)
			if !ok {
				t.Fatal("no answer")
			}
			if a.Host != "::1" {
				t.Fatalf("host %q, want ::1", a.Host)
			}
		})
	}
}

func TestJunkIgnored(t *testing.T) {
	s, addr := startService(t, testConfig("127.0.0.1:0"))
	c := client(t, "127.0.0.1")
	junk := []string{
		"",
		"hello",
		"\x00\x01\x02\xff",
		`{"action":"discover"`,
		`[{"action":"discover"}]`,
		`{"action":"discoverReturn","storeId":"X"}`,
		`{"action":"Discover"}`,
		`{"ACTION":"discover"}`,
		`{"action":"discover","equipId":5}`,
		`{"action":"discover"} trailing`,
		`{"head":{"action":"login"},"body":{}}`,
	}
	for _, j := range junk {
		sendTo(t, c, addr, []byte(j))
	}
	waitStats(t, s, "junk to be ignored", func(st Stats) bool { return st.Ignored == uint64(len(junk)) })
	if st := s.Stats(); st.Answered != 0 {
		t.Fatalf("answered junk: %+v", st)
	}
	// Still alive, and the first datagram back is the answer to this probe.
	sendTo(t, c, addr, probe(t))
	a, _, ok := readAnswer(t, c, 10*time.Second)
	if !ok || a.StoreID != "S-42" {
		t.Fatalf("after junk: answer %+v ok=%v", a, ok)
	}
	if _, _, ok := readAnswer(t, c, 200*time.Millisecond); ok {
		t.Fatal("more than one answer")
	}
}

func TestOversizeIgnored(t *testing.T) {
	s, addr := startService(t, testConfig("127.0.0.1:0"))
	c := client(t, "127.0.0.1")
	sized := func(n int) []byte {
		frame := `{"action":"discover","equipId":""}`
		return []byte(`{"action":"discover","equipId":"` + strings.Repeat("x", n-len(frame)) + `"}`)
	}
	sendTo(t, c, addr, sized(wire.MaxProbeSize+1))
	sendTo(t, c, addr, sized(8000))
	sendTo(t, c, addr, sized(60000))
	waitStats(t, s, "oversize to be ignored", func(st Stats) bool { return st.Ignored == 3 })
	sendTo(t, c, addr, sized(wire.MaxProbeSize))
	if _, _, ok := readAnswer(t, c, 10*time.Second); !ok {
		t.Fatal("a probe of exactly 1 KiB was not answered")
	}
	// The counter moves just after the answer is sent: wait for it.
	waitStats(t, s, "the answer to be counted", func(st Stats) bool { return st.Answered == 1 })
	if st := s.Stats(); st.Answered != 1 || st.Ignored != 3 {
		t.Fatalf("stats %+v", st)
	}
}

// countAnswers reads answers until none has come for quiet.
func countAnswers(t *testing.T, c *net.UDPConn, quiet time.Duration) int {
	n := 0
	for {
		if _, _, ok := readAnswer(t, c, quiet); !ok {
			return n
		}
		n++
	}
}

// TestRateLimitFrozenClock runs the real socket path with the service's
// clock stopped, so the count does not depend on how fast a loaded machine
// processes the burst: exactly 10 answers per source per second.
func TestRateLimitFrozenClock(t *testing.T) {
	s, err := New(testConfig("127.0.0.1:0"), testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	serve(t, s)
	addr := s.Addrs()[0]

	c := client(t, "127.0.0.1")
	for range 50 {
		sendTo(t, c, addr, probe(t))
	}
	waitStats(t, s, "50 probes", func(st Stats) bool { return st.Answered+st.RateLimited == 50 })
	if got := countAnswers(t, c, 300*time.Millisecond); got != 10 {
		t.Fatalf("answers to a burst of 50: %d, want 10", got)
	}

	// Another source address has its own allowance.
	c2 := client(t, "127.0.0.2")
	for range 3 {
		sendTo(t, c2, addr, probe(t))
	}
	waitStats(t, s, "probes from 127.0.0.2", func(st Stats) bool { return st.Answered == 13 })

	// 999ms later: still limited; 1s later: 10 more.
	mu.Lock()
	now = now.Add(999 * time.Millisecond)
	mu.Unlock()
	sendTo(t, c, addr, probe(t))
	waitStats(t, s, "limited probe", func(st Stats) bool { return st.RateLimited == 41 })
	mu.Lock()
	now = now.Add(time.Millisecond)
	mu.Unlock()
	for range 15 {
		sendTo(t, c, addr, probe(t))
	}
	waitStats(t, s, "15 probes a second later", func(st Stats) bool { return st.Answered+st.RateLimited == 69 })
	if got := countAnswers(t, c, 300*time.Millisecond); got != 10 {
		t.Fatalf("answers a second later: %d, want 10", got)
	}
}

// TestRateLimitRealClock sends a burst with the real clock: however slowly
// the burst is processed, no more than 10 answers per started second of
// processing can come back.
func TestRateLimitRealClock(t *testing.T) {
	s, addr := startService(t, testConfig("127.0.0.1:0"))
	c := client(t, "127.0.0.1")
	start := time.Now()
	for range 50 {
		sendTo(t, c, addr, probe(t))
	}
	waitStats(t, s, "50 probes", func(st Stats) bool { return st.Received == 50 })
	span := time.Since(start)
	got := countAnswers(t, c, 500*time.Millisecond)
	limit := 10 * (1 + int(span/time.Second))
	if got < 1 || got > limit {
		t.Fatalf("answers to 50 probes processed within %v: %d, want 1..%d", span, got, limit)
	}
	t.Logf("%d answers to 50 probes processed within %v", got, span)
}

func TestListenInUse(t *testing.T) {
	busy, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	addr := busy.LocalAddr().String()
	s, err := New(testConfig(addr), testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	err = s.Bind()
	if want := "discovery.listen " + addr + ": address already in use"; err == nil || err.Error() != want {
		t.Fatalf("Start: %v, want %q", err, want)
	}
	if !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("error does not match EADDRINUSE: %v", err)
	}
	// Serve reports the same without running.
	if err := s.Serve(context.Background()); err == nil || !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("Serve: %v", err)
	}
}

func TestNewRejects(t *testing.T) {
	for _, cfg := range []Config{
		{Listen: ""},
		{Listen: "8686"},
		{Listen: ":8686", DevicePort: 70000},
		{Listen: ":8686", HTTPPort: -1},
	} {
		if _, err := New(cfg, nil); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
	s, err := New(Config{Listen: "127.0.0.1:notaport"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Bind(); err == nil || !strings.HasPrefix(err.Error(), "discovery.listen") {
		t.Fatalf("bad port: %v", err)
	}
}

func TestStopReleasesSocket(t *testing.T) {
	s, err := New(testConfig("127.0.0.1:0"), testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Bind(); err != nil {
		t.Fatal(err)
	}
	addr := s.Addrs()[0]
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	c := client(t, "127.0.0.1")
	sendTo(t, c, addr, probe(t))
	if _, _, ok := readAnswer(t, c, 10*time.Second); !ok {
		t.Fatal("no answer")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Serve after cancel: %v", err)
	}
	again, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(addr))
	if err != nil {
		t.Fatalf("socket not released: %v", err)
	}
	again.Close()

	// Close after Start, without Serve, releases too.
	s2, _ := New(testConfig(addr.String()), nil)
	if err := s2.Bind(); err != nil {
		t.Fatal(err)
	}
	if err := s2.Close(); err != nil {
		t.Fatal(err)
	}
	again, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(addr))
	if err != nil {
		t.Fatalf("Close did not release: %v", err)
	}
	again.Close()
}

func TestFindUDP(t *testing.T) {
	_, addr := startService(t, testConfig("127.0.0.1:0"))
	cfg2 := testConfig("127.0.0.1:0")
	cfg2.StoreID, cfg2.StoreName = "S-07", "Other Shop"
	_, addr2 := startService(t, cfg2)
	boxes, err := Find(context.Background(), FindOptions{
		Targets: []string{addr.String(), addr2.String(), addr.String()},
		Timeout: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(boxes) != 2 {
		t.Fatalf("found %d boxes, want 2: %+v", len(boxes), boxes)
	}
	b := boxes[1] // sorted by store id: S-07, S-42
	if b.StoreID != "S-42" || b.Name != "Corner Shop" || b.Host != "127.0.0.1" || b.Port != 8686 || fmt.Sprint(b.Via) != "[udp]" || fmt.Sprint(b.Addrs) != "[127.0.0.1]" {
		t.Fatalf("box %+v", b)
	}
	if boxes[0].StoreID != "S-07" || boxes[0].Name != "Other Shop" {
		t.Fatalf("box %+v", boxes[0])
	}
}

func TestFindNothing(t *testing.T) {
	// A bound socket that never answers.
	quiet := client(t, "127.0.0.1")
	boxes, err := Find(context.Background(), FindOptions{Targets: []string{quiet.LocalAddr().String()}, Timeout: 300 * time.Millisecond})
	if err != nil || len(boxes) != 0 {
		t.Fatalf("Find: %v, %v", boxes, err)
	}
	if _, err := Find(context.Background(), FindOptions{Targets: []string{"no-such-host.invalid:1"}, Timeout: 300 * time.Millisecond}); err == nil {
		t.Fatal("no usable target: no error")
	}
}
