package discovery

import (
	"net/netip"
	"testing"
	"time"
)

func TestLimiterSlidingWindow(t *testing.T) {
	l := newSourceLimiter(10, time.Second, 100)
	a := netip.MustParseAddr("192.0.2.10")
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	// 10 answers spread over 900ms; an 11th within a second of the first is refused.
	for i := range 10 {
		if !l.allow(a, t0.Add(time.Duration(i)*100*time.Millisecond)) {
			t.Fatalf("answer %d refused", i)
		}
	}
	if l.allow(a, t0.Add(950*time.Millisecond)) {
		t.Fatal("11th answer inside one second allowed")
	}
	// At t0+1s the first answer leaves the window: one more, not ten.
	if !l.allow(a, t0.Add(time.Second)) {
		t.Fatal("answer at t0+1s refused")
	}
	if l.allow(a, t0.Add(time.Second+50*time.Millisecond)) {
		t.Fatal("second answer at t0+1.05s allowed (window holds 9 + 1 already)")
	}
	// Check the invariant over a long, dense run: never more than 10 in any 1s.
	b := netip.MustParseAddr("192.0.2.11")
	var got []time.Time
	for i := range 5000 {
		now := t0.Add(time.Duration(i) * 7 * time.Millisecond)
		if l.allow(b, now) {
			got = append(got, now)
		}
	}
	for i := 10; i < len(got); i++ {
		if got[i].Sub(got[i-10]) < time.Second {
			t.Fatalf("11 answers within %v", got[i].Sub(got[i-10]))
		}
	}
	if len(got) < 340 { // 35s of run time at 10/s
		t.Fatalf("only %d answers in 35s", len(got))
	}
}

func TestLimiterBoundedTable(t *testing.T) {
	l := newSourceLimiter(10, time.Second, 4)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	src := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}) }
	for i := range 4 {
		if !l.allow(src(i), t0) {
			t.Fatalf("source %d refused", i)
		}
	}
	// A flood of new sources while the table is full of active ones: refused,
	// and the table does not grow.
	for i := 4; i < 10000; i++ {
		if l.allow(src(i), t0.Add(time.Duration(i)*time.Microsecond)) {
			t.Fatalf("source %d allowed with a full table", i)
		}
	}
	if n := l.size(); n != 4 {
		t.Fatalf("table size %d, want 4", n)
	}
	// Known sources keep their allowance.
	if !l.allow(src(0), t0.Add(10*time.Millisecond)) {
		t.Fatal("known source refused")
	}
	// Once the entries are idle for a window they are forgotten and new
	// sources are served.
	later := t0.Add(2 * time.Second)
	if !l.allow(src(20000), later) {
		t.Fatal("new source refused after the others went idle")
	}
	if n := l.size(); n != 1 {
		t.Fatalf("table size after sweep %d, want 1", n)
	}
	// The periodic sweep empties the table after a flood even without
	// pressure.
	if !l.allow(src(1), later.Add(time.Minute)) || l.size() != 1 {
		t.Fatalf("periodic sweep: size %d", l.size())
	}
}

// size is the number of sources tracked.
func (l *sourceLimiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.sources)
}
