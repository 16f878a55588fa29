package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"

	"github.com/storebox/storebox/test/harness"
)

// inNetns runs fn on a thread moved into network namespace ns: sockets
// opened there stay in ns after the thread moves back.
func inNetns(t *testing.T, ns string, fn func()) {
	t.Helper()
	runtime.LockOSThread()
	orig, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
	if err != nil {
		runtime.UnlockOSThread()
		t.Fatal(err)
	}
	defer orig.Close()
	target, err := os.Open("/run/netns/" + ns)
	if err != nil {
		runtime.UnlockOSThread()
		t.Fatal(err)
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		t.Fatal(err)
	}
	fn()
	if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
		t.Fatal(err) // the thread stays locked and dies with the goroutine
	}
	runtime.UnlockOSThread()
}

// TestMDNSHostileQueries attacks the daemon's mDNS responder from a second
// network namespace joined by a veth pair, as a device without
// credentials on a store's LAN can (issue 19 item 3):
//   - queries from off-link sources (203.0.113.5, 2001:db8:99::5, routed
//     back through the far namespace so a reply would arrive) get no
//     answer, legacy or QU (RFC 6762 §11);
//   - on-link queries are answered with IP TTL / hop limit 255;
//   - 200 copies of a question draw one answer, never more than 10× the
//     query;
//   - 20 multicast queries in a second draw one multicast answer (§6).
func TestMDNSHostileQueries(t *testing.T) {
	needNetns(t)
	bin := harness.Binary(t)
	id := fmt.Sprintf("%d", os.Getpid()%1000)
	nsA, nsB := "hostile-netA"+id, "hostile-netB"+id
	vA, vB := "hostile-netA"+id, "hostile-netB"+id
	vethNamespaces(t, nsA, nsB, vA, vB, [][]string{
		{nsA, "ip", "addr", "add", "10.78.0.1/24", "dev", vA},
		{nsA, "ip", "addr", "add", "fd78::1/64", "dev", vA, "nodad"},
		{nsA, "ip", "link", "set", vA, "up"},
		{nsA, "ip", "link", "set", "lo", "up"},
		{nsB, "ip", "addr", "add", "10.78.0.9/24", "dev", vB},
		{nsB, "ip", "addr", "add", "fd78::9/64", "dev", vB, "nodad"},
		// The attacker's off-link sources, and routes in A that would
		// carry a reply back to them.
		{nsB, "ip", "addr", "add", "203.0.113.5/32", "dev", vB},
		{nsB, "ip", "addr", "add", "2001:db8:99::5/128", "dev", vB, "nodad"},
		{nsB, "ip", "link", "set", vB, "up"},
		{nsB, "ip", "link", "set", "lo", "up"},
		{nsA, "ip", "route", "add", "203.0.113.5/32", "via", "10.78.0.9"},
		{nsA, "ip", "-6", "route", "add", "2001:db8:99::5/128", "via", "fd78::9"},
	})

	dir := t.TempDir()
	cfg := filepath.Join(dir, "storebox.toml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`store_id = "S-HOSTILE"
store_name = "Corner Shop"
data_dir = %q
[devices]
listen = ":18686"
[discovery]
listen = ":18686"
mdns = true
[mqtt]
listen = ""
[http]
listen = "127.0.0.1:0"
`, filepath.Join(dir, "data"))), 0o644)
	logPath := filepath.Join(dir, "storebox.log")
	runInNetns(t, nsA, logPath, bin, "run", "--config", cfg)
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, _ := os.ReadFile(logPath)
		if strings.Contains(string(b), "mDNS advertising") && strings.Contains(string(b), "fd78::1") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("daemon did not advertise on IPv4 and IPv6 within 30 s:\n%s", b)
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(2500 * time.Millisecond) // past the two announcements (§8.3)
	daemonLog := func() string { b, _ := os.ReadFile(logPath); return string(b) }

	var ifi *net.Interface
	var off4, on4, off6, on6, off4qu, group *net.UDPConn
	inNetns(t, nsB, func() {
		var err error
		if ifi, err = net.InterfaceByName(vB); err != nil {
			t.Fatal(err)
		}
		listen := func(network, addr string) *net.UDPConn {
			lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
				return rc.Control(func(fd uintptr) { unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, 1) })
			}}
			pc, err := lc.ListenPacket(context.Background(), network, addr)
			if err != nil {
				t.Fatal(err)
			}
			c := pc.(*net.UDPConn)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			return c
		}
		off4, on4 = listen("udp4", "203.0.113.5:0"), listen("udp4", "10.78.0.9:0")
		off4qu = listen("udp4", "203.0.113.5:5353")
		off6, on6 = listen("udp6", "[2001:db8:99::5]:0"), listen("udp6", "[fd78::9]:0")
		group, err = net.ListenMulticastUDP("udp4", ifi, &net.UDPAddr{IP: net.IPv4(224, 0, 0, 251), Port: 5353})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { group.Close() })
	})
	p4s, p6s := map[*net.UDPConn]*ipv4.PacketConn{}, map[*net.UDPConn]*ipv6.PacketConn{}
	for _, c := range []*net.UDPConn{off4, on4, off4qu} {
		p := ipv4.NewPacketConn(c)
		p.SetMulticastInterface(ifi)
		p.SetControlMessage(ipv4.FlagTTL, true)
		p4s[c] = p
	}
	for _, c := range []*net.UDPConn{off6, on6} {
		p := ipv6.NewPacketConn(c)
		p.SetMulticastInterface(ifi)
		p.SetControlMessage(ipv6.FlagHopLimit, true)
		p6s[c] = p
	}
	ipv4.NewPacketConn(group).SetMulticastInterface(ifi)
	to4 := &net.UDPAddr{IP: net.IPv4(224, 0, 0, 251), Port: 5353}
	to6 := &net.UDPAddr{IP: net.ParseIP("ff02::fb"), Port: 5353, Zone: vB}
	instance := "Corner\\ Shop._storebox._tcp.local."
	q := func(qu bool, names ...string) []byte {
		m := new(dns.Msg)
		m.Id = 77
		for _, n := range names {
			qq := dns.Question{Name: n, Qtype: dns.TypeANY, Qclass: dns.ClassINET}
			if qu {
				qq.Qclass |= 1 << 15
			}
			m.Question = append(m.Question, qq)
		}
		b, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	// ask sends b from c to dst and returns the first reply within wait
	// with its IP TTL / hop limit (0 for none).
	ask := func(c *net.UDPConn, dst *net.UDPAddr, b []byte, wait time.Duration) ([]byte, int) {
		t.Helper()
		if _, err := c.WriteToUDP(b, dst); err != nil {
			t.Fatalf("send from %s: %v", c.LocalAddr(), err)
		}
		buf := make([]byte, 65536)
		c.SetReadDeadline(time.Now().Add(wait))
		if dst.IP.To4() != nil {
			n, cm, _, err := p4s[c].ReadFrom(buf)
			if err != nil {
				return nil, 0
			}
			ttl := 0
			if cm != nil {
				ttl = cm.TTL
			}
			return buf[:n], ttl
		}
		n, cm, _, err := p6s[c].ReadFrom(buf)
		if err != nil {
			return nil, 0
		}
		hl := 0
		if cm != nil {
			hl = cm.HopLimit
		}
		return buf[:n], hl
	}

	// On-link first, so a silent off-link result means something.
	if b, ttl := ask(on4, to4, q(false, instance), 3*time.Second); b == nil || ttl != 255 {
		t.Errorf("on-link IPv4 legacy query: reply %d B, IP TTL %d (want 255)\n%s", len(b), ttl, daemonLog())
	}
	if b, hl := ask(on6, to6, q(false, instance), 3*time.Second); b == nil || hl != 255 {
		t.Errorf("on-link IPv6 legacy query: reply %d B, hop limit %d (want 255)", len(b), hl)
	}
	if b, _ := ask(off4, to4, q(false, instance), 1500*time.Millisecond); b != nil {
		t.Errorf("off-link 203.0.113.5 legacy query answered: %d B", len(b))
	}
	if b, _ := ask(off4qu, to4, q(true, instance), 1500*time.Millisecond); b != nil {
		t.Errorf("off-link 203.0.113.5 QU query answered: %d B", len(b))
	}
	if b, _ := ask(off6, to6, q(false, instance), 1500*time.Millisecond); b != nil {
		t.Errorf("off-link 2001:db8:99::5 legacy query answered: %d B", len(b))
	}

	// 200 copies of one question.
	names := make([]string, 200)
	for i := range names {
		names[i] = instance
	}
	big := q(false, names...)
	if b, _ := ask(on4, to4, big, 3*time.Second); b == nil || len(b) > 10*len(big) {
		t.Errorf("200 repeated questions (%d B): reply %d B, want some and at most 10×", len(big), len(b))
	} else {
		var m dns.Msg
		if err := m.Unpack(b); err != nil || len(m.Answer) != 2 {
			t.Errorf("200 repeated questions: %d answers (want SRV and TXT once): %v", len(m.Answer), err)
		}
	}

	// 20 multicast (QM) queries within a second: one multicast answer.
	browse := new(dns.Msg)
	browse.SetQuestion("_storebox._tcp.local.", dns.TypePTR)
	browse.Id, browse.RecursionDesired = 0, false
	pb, _ := browse.Pack()
	answers := make(chan struct{}, 100)
	go func() {
		buf := make([]byte, 9000)
		for {
			n, _, err := group.ReadFromUDP(buf)
			if err != nil {
				return
			}
			var m dns.Msg
			if m.Unpack(buf[:n]) == nil && m.Response {
				for _, rr := range m.Answer {
					if p, ok := rr.(*dns.PTR); ok && p.Ptr == instance {
						answers <- struct{}{}
						break
					}
				}
			}
		}
	}()
	for i := 0; i < 20; i++ {
		if _, err := group.WriteToUDP(pb, to4); err != nil {
			t.Fatal(err)
		}
		time.Sleep(40 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	group.Close()
	if n := len(answers); n < 1 || n > 2 {
		t.Errorf("20 multicast queries in %v drew %d multicast answers, want 1 (at most one a second, RFC 6762 §6)", 800*time.Millisecond, n)
	}
}
