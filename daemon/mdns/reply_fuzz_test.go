package mdns

import (
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// FuzzReply feeds whole datagrams to the responder as an on-link querier
// (legacy port and 5353) and checks the bounds a hostile LAN relies on: a
// reply is at most replyFactor times the datagram and one packet, it
// parses, and no datagram costs more than a few milliseconds.
func FuzzReply(f *testing.F) {
	r, m := testResponder()
	seed := func(q *dns.Msg) {
		b, err := q.Pack()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	seed(query("_storebox._tcp.local.", dns.TypePTR))
	seed(query(r.names.host, dns.TypeANY))
	big := query(r.names.instance, dns.TypeANY)
	for i := 0; i < 700; i++ {
		big.Question = append(big.Question, dns.Question{Name: r.names.host, Qtype: dns.TypeANY, Qclass: dns.ClassINET | cacheFlush})
	}
	for i := 0; i < 330; i++ {
		big.Answer = append(big.Answer, r.srv(hostTTL, true), r.ptr(60))
	}
	seed(big)
	// The packet: 700 questions for the host and as many of its
	// A records as known answers as fit in 9 KB (68 ms of CPU each when
	// every answer was compared with every known answer).
	quad := query(r.names.host, dns.TypeANY)
	quad.Compress = true
	for i := 0; i < 700; i++ {
		quad.Question = append(quad.Question, dns.Question{Name: r.names.host, Qtype: dns.TypeANY, Qclass: dns.ClassINET | cacheFlush})
	}
	for i := 0; quad.Len() < 8900; i++ {
		quad.Answer = append(quad.Answer, &dns.A{Hdr: dns.RR_Header{Name: r.names.host, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 10}, A: []byte{10, 0, byte(i >> 8), byte(i)}})
	}
	seed(quad)
	f.Add([]byte{0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 0x0c, 0, 1, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		now := time.Now()
		for _, src := range []netip.AddrPort{onLinkLeg, onLinkMDNS} {
			// The fastest of three runs: the machine's other load is not the
			// datagram's cost.
			var out []byte
			var best time.Duration
			for i := 0; i < 3; i++ {
				r.rate = multicastRate{} // every datagram may multicast
				start := time.Now()
				out, _ = r.reply(b, m, src, now)
				if d := time.Since(start); i == 0 || d < best {
					best = d
				}
				if best < 20*time.Millisecond {
					break
				}
			}
			if best > 20*time.Millisecond {
				t.Errorf("a %d B datagram took %v", len(b), best)
			}
			if out == nil {
				continue
			}
			if len(out) > replyFactor*len(b) || len(out) > maxReply {
				t.Fatalf("a %d B datagram drew %d B", len(b), len(out))
			}
			var resp dns.Msg
			if err := resp.Unpack(out); err != nil || !resp.Response || len(resp.Answer) == 0 {
				t.Fatalf("reply does not parse as an answer: %v %v", err, resp)
			}
		}
	})
}
