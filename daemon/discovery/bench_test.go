package discovery

import (
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkProbeAnswer measures one probe/answer round trip over loopback
// through the full path (parse, limit, host choice, encode, send). The
// service clock advances a second per probe so the rate limit never bites.
func BenchmarkProbeAnswer(b *testing.B) {
	s, err := New(testConfig(":0"), nil)
	if err != nil {
		b.Fatal(err)
	}
	var tick atomic.Int64
	t0 := time.Now()
	s.now = func() time.Time { return t0.Add(time.Duration(tick.Add(1)) * time.Second) }
	if err := s.Bind(); err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	go s.Serve(b.Context())
	c := client(b, "0.0.0.0")
	to := s.Addrs()[0]
	p := probe(b)
	buf := make([]byte, 2048)
	b.ResetTimer()
	for b.Loop() {
		if _, err := c.WriteToUDPAddrPort(p, to); err != nil {
			b.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, _, err := c.ReadFromUDPAddrPort(buf); err != nil {
			b.Fatal(err)
		}
	}
}
