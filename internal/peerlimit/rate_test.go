package peerlimit

import (
	"fmt"
	"net/netip"
	"testing"
	"time"
)

func TestRateBurstThenInterval(t *testing.T) {
	r := NewRate(3, time.Second)
	now := time.Unix(1000, 0)
	r.now = func() time.Time { return now }
	a := Key(netip.MustParseAddr("2001:db8:1:2::1"))
	other := Key(netip.MustParseAddr("2001:db8:1:2::ffff")) // the same /64
	for i := 0; i < 3; i++ {
		if r.Exhausted(a) || !r.Allow(a) {
			t.Fatalf("token %d of a burst of 3 refused", i+1)
		}
	}
	if !r.Exhausted(other) || r.Allow(other) {
		t.Fatal("another address of the same /64 got a fourth token")
	}
	if b := Key(netip.MustParseAddr("192.0.2.1")); r.Exhausted(b) || !r.Allow(b) {
		t.Fatal("another client was refused")
	}
	now = now.Add(999 * time.Millisecond)
	if r.Allow(a) {
		t.Fatal("a token before the interval passed")
	}
	now = now.Add(time.Millisecond)
	if r.Exhausted(a) || !r.Allow(a) || r.Allow(a) {
		t.Fatal("not exactly one token after an interval")
	}
	now = now.Add(time.Hour)
	for i := 0; i < 3; i++ {
		if !r.Allow(a) {
			t.Fatalf("after an hour, token %d refused", i+1)
		}
	}
	if r.Allow(a) {
		t.Fatal("an idle hour saved more than the burst")
	}
}

// The clients remembered are bounded; a client over its rate stays so
// while fewer than the bound are newer.
func TestRateBoundsClients(t *testing.T) {
	r := NewRate(1, time.Minute)
	a := Key(netip.MustParseAddr("10.0.0.1"))
	r.Allow(a)
	for i := 0; i < maxRateClients-1; i++ {
		r.Allow(Key(netip.MustParseAddr(fmt.Sprintf("fd00:%x::1", i))))
	}
	if !r.Exhausted(a) {
		t.Fatal("forgot a client within the bound")
	}
	for i := 0; i < 3*maxRateClients; i++ {
		r.Allow(Key(netip.MustParseAddr(fmt.Sprintf("fd01:%x::1", i))))
	}
	if n := len(r.clients); n != maxRateClients || r.lru.Len() != maxRateClients {
		t.Fatalf("%d clients remembered, bound %d", n, maxRateClients)
	}
}
