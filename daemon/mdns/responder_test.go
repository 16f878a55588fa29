package mdns

import (
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

func testResponder() (*responder, mdnsIface) {
	names := mdnsNames{
		service:  "_storebox._tcp.local.",
		instance: EscapeLabel("Corner Shop") + "._storebox._tcp.local.",
		host:     "storebox-box.local.",
		port:     8686,
		txt:      []string{"store=S-1", "ver=1.0"},
	}
	m := mdnsIface{
		ifi:   net.Interface{Index: 7, Name: "lan0"},
		v4:    []netip.Addr{netip.MustParseAddr("192.168.1.20")},
		v6:    []netip.Addr{netip.MustParseAddr("fd00::20")},
		links: []netip.Prefix{netip.MustParsePrefix("192.168.1.0/24"), netip.MustParsePrefix("fd00::/64")},
	}
	return &responder{names: names, ifaces: map[int]mdnsIface{7: m}}, m
}

func query(name string, t uint16) *dns.Msg {
	q := new(dns.Msg)
	q.SetQuestion(name, t)
	q.Id = 0
	q.RecursionDesired = false
	return q
}

// wire packs and unpacks a message as a peer would see it.
func overWire(t *testing.T, m *dns.Msg) *dns.Msg {
	t.Helper()
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	var back dns.Msg
	if err := back.Unpack(b); err != nil {
		t.Fatal(err)
	}
	return &back
}

// TestBrowseAnswerTTLAndCacheFlush: a browse (PTR) answer carries the PTR
// without the cache-flush bit and 4500 s, and in its additional section SRV
// (120 s), TXT (4500 s), A/AAAA (120 s), all unique records with the
// cache-flush bit (RFC 6762 §10, §10.2).
func TestBrowseAnswerTTLAndCacheFlush(t *testing.T) {
	r, m := testResponder()
	resp := r.respond(query("_storebox._tcp.local.", dns.TypePTR), m, false)
	if resp == nil {
		t.Fatal("no answer to a browse")
	}
	resp = overWire(t, resp)
	if resp.Id != 0 || !resp.Response || !resp.Authoritative || len(resp.Question) != 0 {
		t.Fatalf("header: id %d response %v aa %v questions %d", resp.Id, resp.Response, resp.Authoritative, len(resp.Question))
	}
	if len(resp.Answer) != 1 {
		t.Fatalf("answers %v", resp.Answer)
	}
	ptr := resp.Answer[0].(*dns.PTR)
	if ptr.Hdr.Class != dns.ClassINET || ptr.Hdr.Ttl != 4500 || ptr.Ptr != r.names.instance {
		t.Fatalf("PTR %v", ptr)
	}
	want := map[uint16]uint32{dns.TypeSRV: 120, dns.TypeTXT: 4500, dns.TypeA: 120, dns.TypeAAAA: 120}
	seen := map[uint16]bool{}
	for _, rr := range resp.Extra {
		h := rr.Header()
		if h.Class != dns.ClassINET|cacheFlush {
			t.Errorf("%s: class %#x, want IN with cache-flush", rr, h.Class)
		}
		if h.Ttl != want[h.Rrtype] {
			t.Errorf("%s: ttl %d, want %d", rr, h.Ttl, want[h.Rrtype])
		}
		seen[h.Rrtype] = true
	}
	for typ := range want {
		if !seen[typ] {
			t.Errorf("browse answer lacks %s", dns.TypeToString[typ])
		}
	}
	srv := findRR[*dns.SRV](resp.Extra)
	if srv == nil || srv.Port != 8686 || srv.Target != "storebox-box.local." {
		t.Fatalf("SRV %v", srv)
	}
}

func findRR[T dns.RR](rrs []dns.RR) T {
	var zero T
	for _, rr := range rrs {
		if v, ok := rr.(T); ok {
			return v
		}
	}
	return zero
}

// TestLegacyUnicast: a query from a port other than 5353 is a legacy
// resolver's: its id and question come back, TTLs at most 10 s, no
// cache-flush bits (RFC 6762 §6.7).
func TestLegacyUnicast(t *testing.T) {
	r, m := testResponder()
	q := query(r.names.instance, dns.TypeSRV)
	q.Id = 4242
	resp := overWire(t, r.respond(q, m, true))
	if resp.Id != 4242 || len(resp.Question) != 1 {
		t.Fatalf("id %d questions %v", resp.Id, resp.Question)
	}
	for _, rr := range append(resp.Answer, resp.Extra...) {
		if h := rr.Header(); h.Ttl > 10 || h.Class&cacheFlush != 0 {
			t.Errorf("%s: ttl %d class %#x", rr, h.Ttl, h.Class)
		}
	}
	if findRR[*dns.SRV](resp.Answer) == nil || findRR[*dns.A](resp.Extra) == nil {
		t.Fatalf("answer %v extra %v", resp.Answer, resp.Extra)
	}
}

// TestKnownAnswerSuppression: a querier that lists our PTR with more than
// half its TTL left gets no answer; with less, it gets one (RFC 6762 §7.1).
func TestKnownAnswerSuppression(t *testing.T) {
	r, m := testResponder()
	q := query("_storebox._tcp.local.", dns.TypePTR)
	known := r.ptr(otherTTL)
	known.Header().Ttl = 3000
	q.Answer = []dns.RR{known}
	if resp := r.respond(overWire(t, q), m, false); resp != nil {
		t.Fatalf("answered a known answer: %v", resp)
	}
	known.Header().Ttl = 1000
	if resp := r.respond(overWire(t, q), m, false); resp == nil {
		t.Fatal("a known answer near expiry was not refreshed")
	}
}

// TestHostAndCaseAndStrangers: the host name is answered per type, names
// match case-insensitively, and names that are not ours get nothing.
func TestHostAndCaseAndStrangers(t *testing.T) {
	r, m := testResponder()
	resp := r.respond(query("STOREBOX-BOX.local.", dns.TypeA), m, false)
	if resp == nil || len(resp.Answer) != 1 || resp.Answer[0].(*dns.A).A.String() != "192.168.1.20" {
		t.Fatalf("A answer %v", resp)
	}
	resp = r.respond(query("storebox-box.local.", dns.TypeAAAA), m, false)
	if resp == nil || len(resp.Answer) != 1 || resp.Answer[0].(*dns.AAAA).AAAA.String() != "fd00::20" {
		t.Fatalf("AAAA answer %v", resp)
	}
	resp = r.respond(query(servicesName, dns.TypePTR), m, false)
	if resp == nil || resp.Answer[0].(*dns.PTR).Ptr != "_storebox._tcp.local." {
		t.Fatalf("service enumeration %v", resp)
	}
	for _, name := range []string{"_http._tcp.local.", "other.local.", "Corner\\ Shop._http._tcp.local."} {
		if resp := r.respond(query(name, dns.TypeANY), m, false); resp != nil {
			t.Errorf("%s answered: %v", name, resp)
		}
	}
}

// TestAdvertisedIfacesFollowTheListener: loopback advertises nothing and
// says why; a specific address advertises that address alone; a wildcard
// advertises every non-loopback address.
func TestAdvertisedIfacesFollowTheListener(t *testing.T) {
	list, reason := advertisedIfaces(netip.MustParseAddr("127.0.0.1"))
	if len(list) != 0 || !strings.Contains(reason, "loopback") {
		t.Fatalf("loopback: %v %q", list, reason)
	}
	list, reason = advertisedIfaces(netip.MustParseAddr("::1"))
	if len(list) != 0 || !strings.Contains(reason, "loopback") {
		t.Fatalf("::1: %v %q", list, reason)
	}
	all, _ := advertisedIfaces(netip.IPv6Unspecified())
	if len(all) == 0 {
		t.Skip("no multicast interface with an address here")
	}
	one := all[0]
	addr := slices.Concat(one.v4, one.v6)[0]
	list, reason = advertisedIfaces(addr)
	if len(list) != 1 || list[0].ifi.Index != one.ifi.Index || !slices.Equal(slices.Concat(list[0].v4, list[0].v6), []netip.Addr{addr}) {
		t.Fatalf("bound to %s: %+v %q", addr, list, reason)
	}
	list, reason = advertisedIfaces(netip.MustParseAddr("203.0.113.99"))
	if len(list) != 0 || !strings.Contains(reason, "203.0.113.99") {
		t.Fatalf("foreign address: %v %q", list, reason)
	}
}

// TestArrivalIfaceWithoutControlMessage: where the platform reports no
// arrival interface (Windows: golang.org/x/net gives no control messages),
// the interface is the one whose prefix holds the source, or an IPv6
// source's zone, or the only one; before, such a query was dropped.
func TestArrivalIfaceWithoutControlMessage(t *testing.T) {
	r, m := testResponder()
	m.links = []netip.Prefix{netip.MustParsePrefix("192.168.1.0/24"), netip.MustParsePrefix("fd00::/64")}
	other := mdnsIface{ifi: net.Interface{Index: 9, Name: "wlan0"}, v4: []netip.Addr{netip.MustParseAddr("10.0.0.2")},
		links: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}
	r.ifaces = map[int]mdnsIface{7: m, 9: other}
	for _, c := range []struct {
		ifIndex int
		from    net.Addr
		want    int
	}{
		{3, &net.UDPAddr{IP: net.ParseIP("10.0.0.9")}, 3}, // the control message wins
		{0, &net.UDPAddr{IP: net.ParseIP("192.168.1.77"), Port: 5353}, 7},
		{0, &net.UDPAddr{IP: net.ParseIP("10.1.2.3"), Port: 5353}, 9},
		{0, &net.UDPAddr{IP: net.ParseIP("fd00::99"), Port: 5353}, 7},
		{0, &net.UDPAddr{IP: net.ParseIP("fe80::1"), Port: 5353, Zone: "wlan0"}, 9},
		{0, &net.UDPAddr{IP: net.ParseIP("172.16.0.1"), Port: 5353}, 0}, // on no link of ours
	} {
		if got := r.arrivalIface(c.ifIndex, c.from); got != c.want {
			t.Errorf("arrivalIface(%d, %v) = %d, want %d", c.ifIndex, c.from, got, c.want)
		}
	}
	r.ifaces = map[int]mdnsIface{7: m}
	if got := r.arrivalIface(0, &net.UDPAddr{IP: net.ParseIP("172.16.0.1")}); got != 7 {
		t.Errorf("one interface: %d, want 7", got)
	}
}
