package discovery

import (
	"fmt"
	"testing"

	wire "github.com/storebox/storebox/protocol/discovery"
)

func TestBoxesMerge(t *testing.T) {
	ans := func(host string) wire.Answer {
		return wire.Answer{Action: wire.ActionReturn, StoreID: "S-1", Name: "Full Store Name", Host: host, Port: 8686}
	}
	var bs boxes
	// mDNS first (name as mDNS knows it), then the box's own UDP answers
	// over loopback and over the LAN.
	bs.add(wire.Answer{StoreID: "S-1", Name: "Cut", Host: "192.0.2.2", Port: 8686}, "192.0.2.2", "mdns")
	bs.add(ans("127.0.0.1"), "127.0.0.1", "udp")
	bs.add(ans("192.0.2.2"), "192.0.2.2", "udp")
	bs.add(wire.Answer{StoreID: "S-2", Host: "192.0.2.3"}, "192.0.2.3", "udp")
	out := bs.sorted()
	if len(out) != 2 {
		t.Fatalf("%d boxes: %+v", len(out), out)
	}
	b := out[0]
	if b.Name != "Full Store Name" || b.Host != "192.0.2.2" || fmt.Sprint(b.Addrs) != "[192.0.2.2 127.0.0.1]" || fmt.Sprint(b.Via) != "[mdns udp]" {
		t.Fatalf("merged box %+v", b)
	}
}
