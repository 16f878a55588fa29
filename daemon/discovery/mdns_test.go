package discovery

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/grandcat/zeroconf"
	"github.com/miekg/dns"
	"golang.org/x/net/ipv4"

	"github.com/storebox/storebox/daemon/mdns"
	wire "github.com/storebox/storebox/protocol/discovery"
)

// hasMulticast reports whether the OS has an up, multicast-capable
// interface with an address: what mDNS needs and what zeroconf uses.
func hasMulticast() bool {
	ifaces, _ := net.Interfaces()
	for _, ifi := range ifaces {
		if ifi.Flags&net.FlagUp == 0 || ifi.Flags&net.FlagMulticast == 0 || ifi.Flags&net.FlagLoopback != 0 {
			continue
		}
		if addrs, _ := ifi.Addrs(); len(addrs) > 0 {
			return true
		}
	}
	return false
}

// TestMDNS registers a real advertisement and browses for it with a real
// zeroconf resolver over the host's multicast interfaces. (Loopback has no
// MULTICAST flag on Linux; multicast sent on another interface is looped
// back to local sockets, which is what makes this work on one host.)
func TestMDNS(t *testing.T) {
	if !hasMulticast() {
		t.Skip("no up multicast interface with an address on this host: mDNS cannot work here")
	}
	suffix := make([]byte, 3)
	rand.Read(suffix)
	cfg := testConfig("127.0.0.1:0")
	cfg.MDNS = true
	cfg.StoreID = "S-" + hex.EncodeToString(suffix)
	cfg.StoreName = "Test Shop No. 5 (超市) " + hex.EncodeToString(suffix)
	cfg.DevicePort = 18686
	startService(t, cfg)

	instance := wire.InstanceName(cfg.StoreName)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	r, err := zeroconf.NewResolver(nil)
	if err != nil {
		t.Fatalf("resolver: %v", err)
	}
	entries := make(chan *zeroconf.ServiceEntry)
	if err := r.Browse(ctx, wire.MDNSService, wire.MDNSDomain, entries); err != nil {
		t.Fatalf("browse: %v", err)
	}
	var got *zeroconf.ServiceEntry
	for e := range entries {
		if got == nil && mdns.Unescape(e.Instance) == instance {
			got = e
			cancel() // zeroconf closes entries; keep draining until then
		}
	}
	if got == nil {
		t.Fatalf("instance %q not found by browsing %s within 15s", instance, wire.MDNSService)
	}
	if got.Port != 18686 {
		t.Errorf("port %d, want 18686", got.Port)
	}
	var txt []string
	for _, s := range got.Text {
		txt = append(txt, mdns.Unescape(s))
	}
	for _, want := range []string{"store=" + cfg.StoreID, "ver=1.2.3", "mqtt=1883", "http=8680"} {
		if !slices.Contains(txt, want) {
			t.Errorf("TXT %q lacks %q", txt, want)
		}
	}
	if len(got.AddrIPv4)+len(got.AddrIPv6) == 0 {
		t.Error("no address advertised")
	}

	// A direct lookup of the instance (the name as a browser sends it) is
	// answered: the registered name matches the wire name byte for byte.
	lctx, lcancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer lcancel()
	r2, err := zeroconf.NewResolver(nil)
	if err != nil {
		t.Fatal(err)
	}
	looked := make(chan *zeroconf.ServiceEntry)
	if err := r2.Lookup(lctx, mdns.EscapeLabel(instance), wire.MDNSService, wire.MDNSDomain, looked); err != nil {
		t.Fatal(err)
	}
	var found bool
	for e := range looked {
		if !found && e.Port == 18686 {
			found = true
			lcancel()
		}
	}
	if !found {
		t.Errorf("lookup of instance %q got no answer", instance)
	}

	// Find merges the mDNS sighting with a UDP one of the same box.
	boxes, err := Find(context.Background(), FindOptions{Targets: []string{"127.0.0.1:1"}, MDNS: true, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var box *Box
	for i := range boxes {
		if boxes[i].StoreID == cfg.StoreID {
			box = &boxes[i]
		}
	}
	if box == nil {
		t.Fatalf("Find over mDNS did not list %s: %+v", cfg.StoreID, boxes)
	}
	if box.Name != instance || box.Port != 18686 || box.MQTTPort != 1883 || !slices.Contains(box.Via, "mdns") || net.ParseIP(box.Host) == nil {
		t.Fatalf("box %+v", box)
	}

	// BrowseOnly (doctor's check of the advertisement) sends no probe.
	boxes, err = Find(context.Background(), FindOptions{BrowseOnly: true, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	box = nil
	for i := range boxes {
		if boxes[i].StoreID == cfg.StoreID {
			box = &boxes[i]
		}
	}
	if box == nil || box.Name != instance || !slices.Equal(box.Via, []string{"mdns"}) {
		t.Fatalf("BrowseOnly found %+v", boxes)
	}
}

// TestMDNSQuickStop stops the service right after mDNS registration started:
// the daemon may be stopped at any moment, and zeroconf's shutdown must not
// hang or race.
func TestMDNSQuickStop(t *testing.T) {
	if !hasMulticast() {
		t.Skip("no up multicast interface with an address on this host: mDNS cannot work here")
	}
	for i := range 5 {
		cfg := testConfig("127.0.0.1:0")
		cfg.MDNS = true
		cfg.StoreID = "S-quick"
		cfg.StoreName = "Quick " + string(rune('a'+i))
		s, err := New(cfg, testLogger(t))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- s.Serve(ctx) }()
		time.Sleep(time.Duration(i) * 20 * time.Millisecond)
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Serve did not return")
		}
	}
}

// TestMDNSFailureKeepsUDP: an mDNS advertisement that cannot be made (here:
// no device port to announce) is a warning; probes are still answered.
func TestMDNSFailureKeepsUDP(t *testing.T) {
	cfg := testConfig("127.0.0.1:0")
	cfg.MDNS = true
	cfg.DevicePort = 0
	_, addr := startService(t, cfg)
	c := client(t, "127.0.0.1")
	sendTo(t, c, addr, probe(t))
	a, _, ok := readAnswer(t, c, 10*time.Second)
	if !ok || a.Port != 0 || a.StoreID != "S-42" {
		t.Fatalf("answer %+v ok=%v", a, ok)
	}
}

// TestMDNSAnswersAfterOversizeDatagram: a datagram larger than any mDNS
// packet (Windows fails that read with WSAEMSGSIZE, where Linux truncates)
// does not stop the responder; a legacy unicast query after it is answered,
// which also needs the arrival interface where the platform gives no
// control messages (Windows), and the answer goes back to the querier.
func TestMDNSAnswersAfterOversizeDatagram(t *testing.T) {
	ifi, src := multicastIface()
	if ifi == nil {
		t.Skip("no up multicast interface with an IPv4 address on this host: mDNS cannot work here")
	}
	suffix := make([]byte, 3)
	rand.Read(suffix)
	cfg := testConfig("127.0.0.1:0")
	cfg.MDNS = true
	cfg.StoreName = "Oversize " + hex.EncodeToString(suffix)
	cfg.DevicePort = 18687
	startService(t, cfg)

	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: src})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	p := ipv4.NewPacketConn(c)
	if err := p.SetMulticastInterface(ifi); err != nil {
		t.Fatal(err)
	}
	_ = p.SetMulticastLoopback(true)
	group := &net.UDPAddr{IP: net.IPv4(224, 0, 0, 251), Port: 5353}
	instance := mdns.EscapeLabel(wire.InstanceName(cfg.StoreName)) + "." + wire.MDNSService + "." + wire.MDNSDomain
	q := new(dns.Msg)
	q.SetQuestion(instance, dns.TypeSRV)
	q.RecursionDesired = false
	query, err := q.Pack()
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	buf := make([]byte, 9000)
	for time.Now().Before(deadline) {
		// The responder may still be joining: send both again each round.
		if _, err := c.WriteTo(make([]byte, 9500), group); err != nil {
			t.Fatalf("send the oversize datagram: %v", err)
		}
		if _, err := c.WriteTo(query, group); err != nil {
			t.Fatalf("send the query: %v", err)
		}
		c.SetReadDeadline(time.Now().Add(time.Second))
		for {
			n, _, err := c.ReadFrom(buf)
			if err != nil {
				break
			}
			var resp dns.Msg
			if resp.Unpack(buf[:n]) != nil || !resp.Response || resp.Id != q.Id {
				continue
			}
			for _, rr := range resp.Answer {
				if srv, ok := rr.(*dns.SRV); ok && srv.Port == 18687 {
					return
				}
			}
		}
	}
	t.Fatal("no answer to a legacy unicast query after an oversize datagram within 15s")
}

// multicastIface is an up multicast interface with an IPv4 address, and
// that address.
func multicastIface() (*net.Interface, net.IP) {
	ifaces, _ := net.Interfaces()
	for _, ifi := range ifaces {
		if ifi.Flags&net.FlagUp == 0 || ifi.Flags&net.FlagMulticast == 0 || ifi.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, _ := ifi.Addrs()
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil {
				return &ifi, ipn.IP.To4()
			}
		}
	}
	return nil, nil
}
