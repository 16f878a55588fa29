package discovery

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/grandcat/zeroconf"
	"github.com/miekg/dns"

	wire "github.com/storebox/storebox/protocol/discovery"
)

func TestEscapeMatchesMiekg(t *testing.T) {
	for _, name := range []string{
		"Corner Shop",
		"Tom & Jerry's (Main St.); @home \"best\" \\ store",
		"超市 第1号店",
		"tab\there\x00nul\x7f",
	} {
		fqdn := escapeLabel(name) + "._storebox._tcp.local."
		m := new(dns.Msg)
		m.SetQuestion(fqdn, dns.TypeSRV)
		packed, err := m.Pack()
		if err != nil {
			t.Fatalf("%q: pack: %v", name, err)
		}
		var back dns.Msg
		if err := back.Unpack(packed); err != nil {
			t.Fatal(err)
		}
		// The name zeroconf compares with incoming queries is the one
		// miekg/dns produces when unpacking: they must be identical.
		if got := back.Question[0].Name; got != fqdn {
			t.Fatalf("%q: wire round trip %q, registered %q", name, got, fqdn)
		}
		label := strings.TrimSuffix(back.Question[0].Name, "._storebox._tcp.local.")
		if got := unescapeDNS(label); got != name {
			t.Fatalf("unescape %q = %q, want %q", label, got, name)
		}
	}
	txt := `store=a\b"c 店`
	rr := &dns.TXT{Hdr: dns.RR_Header{Name: "x.local.", Rrtype: dns.TypeTXT, Class: dns.ClassINET}, Txt: []string{escapeTXT(txt)}}
	m := new(dns.Msg)
	m.Answer = []dns.RR{rr}
	packed, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	var back dns.Msg
	if err := back.Unpack(packed); err != nil {
		t.Fatal(err)
	}
	if got := unescapeDNS(back.Answer[0].(*dns.TXT).Txt[0]); got != txt {
		t.Fatalf("txt round trip %q, want %q", got, txt)
	}
}

// hasMulticast reports whether the OS has an up, multicast-capable
// interface with an address: what mDNS needs and what zeroconf uses.
func hasMulticast() bool { l, _ := advertisedIfaces(netip.Addr{}); return len(l) > 0 }

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
		if got == nil && unescapeDNS(e.Instance) == instance {
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
		txt = append(txt, unescapeDNS(s))
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
	if err := r2.Lookup(lctx, escapeLabel(instance), wire.MDNSService, wire.MDNSDomain, looked); err != nil {
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
