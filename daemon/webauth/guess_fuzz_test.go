package webauth

import (
	"net/http"
	"net/netip"
	"testing"
	"time"
)

// FuzzGuessLimit drives the wrong-token limiter with a stream of wrong
// guesses from addresses the input names (17 bytes each: a clock step in
// seconds, then an IPv6 address, IPv4-mapped ones included). It checks
// the map stays within its bound and in step with its LRU list, and that a
// client that just failed maxFails times in a row is blocked, under any
// of its /64's addresses.
func FuzzGuessLimit(f *testing.F) {
	ip := func(s string) []byte { a := netip.MustParseAddr(s).As16(); return a[:] }
	f.Add(append([]byte{0}, ip("2001:db8::1")...))
	f.Add(append(append([]byte{1}, ip("::ffff:192.0.2.1")...), append([]byte{61}, ip("2001:db8::2")...)...))
	f.Fuzz(func(t *testing.T, in []byte) {
		g := newGuessLimit()
		g.maxClients = 8
		now := time.Unix(1_700_000_000, 0)
		g.now = func() time.Time { return now }
		var last netip.Prefix
		for len(in) >= 17 {
			now = now.Add(time.Duration(in[0]) * time.Second)
			a := netip.AddrFrom16([16]byte(in[1:17]))
			in = in[17:]
			r := &http.Request{RemoteAddr: netip.AddrPortFrom(a, 1).String()}
			start := time.Now()
			g.failed(r)
			if d := time.Since(start); d > 50*time.Millisecond {
				t.Fatalf("one wrong guess took %v", d)
			}
			k := clientOf(r)
			last = k
			if n := g.clients(); n > g.maxClients || n != g.lru.Len() {
				t.Fatalf("limiter holds %d clients (list %d), bound %d", n, g.lru.Len(), g.maxClients)
			}
		}
		// The last client, hammered maxFails times now, is blocked.
		if !last.IsValid() {
			return
		}
		for i := 0; i < g.maxFails; i++ {
			g.failed(&http.Request{RemoteAddr: netip.AddrPortFrom(last.Addr(), 2).String()})
		}
		if !g.blocked(&http.Request{RemoteAddr: netip.AddrPortFrom(last.Addr(), 3).String()}) {
			t.Fatalf("%s not blocked after %d wrong guesses", last, g.maxFails)
		}
	})
}
