package mdns

import (
	"strings"
	"testing"

	"github.com/miekg/dns"
)

func TestEscapeMatchesMiekg(t *testing.T) {
	for _, name := range []string{
		"Corner Shop",
		"Tom & Jerry's (Main St.); @home \"best\" \\ store",
		"超市 第1号店",
		"tab\there\x00nul\x7f",
	} {
		fqdn := EscapeLabel(name) + "._storebox._tcp.local."
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
		if got := Unescape(label); got != name {
			t.Fatalf("unescape %q = %q, want %q", label, got, name)
		}
	}
	txt := `store=a\b"c 店`
	rr := &dns.TXT{Hdr: dns.RR_Header{Name: "x.local.", Rrtype: dns.TypeTXT, Class: dns.ClassINET}, Txt: []string{EscapeTXT(txt)}}
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
	if got := Unescape(back.Answer[0].(*dns.TXT).Txt[0]); got != txt {
		t.Fatalf("txt round trip %q, want %q", got, txt)
	}
}
