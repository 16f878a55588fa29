package mdns

import (
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"
)

var (
	onLinkMDNS = netip.MustParseAddrPort("192.168.1.9:5353")
	onLinkLeg  = netip.MustParseAddrPort("192.168.1.9:40000")
)

func pack(t *testing.T, m *dns.Msg) []byte {
	t.Helper()
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Off-link sources get nothing, by unicast or multicast, whatever they
// ask (RFC 6762 §11); on-link and link-local ones are answered.
func TestOffLinkSourcesAreNotAnswered(t *testing.T) {
	r, m := testResponder()
	q := query(r.names.instance, dns.TypeSRV)
	q.Question[0].Qclass |= cacheFlush // QU
	b := pack(t, q)
	for _, src := range []string{"203.0.113.5:40000", "203.0.113.5:5353", "[2001:db8:99::5]:40000", "[2001:db8:99::5]:5353", "[::ffff:203.0.113.5]:5353"} {
		if out, _ := r.reply(b, m, netip.MustParseAddrPort(src), time.Now()); out != nil {
			t.Errorf("answered off-link %s", src)
		}
	}
	for _, src := range []string{"192.168.1.9:40000", "[fd00::9]:5353", "[fe80::9]:5353", "169.254.3.3:5353"} {
		if out, unicast := r.reply(b, m, netip.MustParseAddrPort(src), time.Now()); out == nil || !unicast {
			t.Errorf("on-link %s: reply %d bytes, unicast %v", src, len(out), unicast)
		}
	}
}

// A question repeated 200 times is answered once, and no reply is more
// than 10× its query or more than one packet.
func TestRepeatedQuestionsAreAnsweredOnce(t *testing.T) {
	r, m := testResponder()
	q := query(r.names.instance, dns.TypeANY)
	for i := 0; i < 199; i++ {
		q.Question = append(q.Question, dns.Question{Name: "COrner\\ shop._storebox._tcp.local.", Qtype: dns.TypeANY, Qclass: dns.ClassINET})
	}
	b := pack(t, q)
	out, _ := r.reply(b, m, onLinkLeg, time.Now())
	if out == nil {
		t.Fatal("no answer")
	}
	var resp dns.Msg
	if err := resp.Unpack(out); err != nil {
		t.Fatal(err)
	}
	if len(resp.Answer) != 2 || len(resp.Question) != 1 {
		t.Errorf("%d answers, %d questions echoed; want SRV and TXT once, the question once", len(resp.Answer), len(resp.Question))
	}
	// A tiny query cannot draw a big answer: the extras give way first.
	small := pack(t, query("_storebox._tcp.local.", dns.TypePTR))
	out, _ = r.reply(small, m, onLinkLeg, time.Now())
	if len(out) > replyFactor*len(small) || len(out) > maxReply {
		t.Errorf("a %d B query drew %d B", len(small), len(out))
	}
}

// A record multicast on an interface is not multicast there again within
// a second (RFC 6762 §6); unicast answers are not held back.
func TestMulticastRateLimit(t *testing.T) {
	r, m := testResponder()
	b := pack(t, query("_storebox._tcp.local.", dns.TypePTR))
	now := time.Now()
	sent := 0
	for i := 0; i < 50; i++ {
		if out, unicast := r.reply(b, m, onLinkMDNS, now.Add(time.Duration(i)*20*time.Millisecond)); out != nil && !unicast {
			sent++
		}
	}
	if sent != 1 {
		t.Errorf("50 queries in a second drew %d multicast answers, want 1", sent)
	}
	if out, _ := r.reply(b, m, onLinkMDNS, now.Add(1100*time.Millisecond)); out == nil {
		t.Error("no multicast answer a second later")
	}
	if out, unicast := r.reply(b, m, onLinkLeg, now.Add(1200*time.Millisecond)); out == nil || !unicast {
		t.Error("a legacy query was held back by the multicast limit")
	}
}

// Known answers are a set: hundreds of them, with our record among them,
// suppress it, and records of other names are ignored.
func TestManyKnownAnswers(t *testing.T) {
	r, m := testResponder()
	q := query("_storebox._tcp.local.", dns.TypePTR)
	for i := 0; i < 300; i++ {
		q.Answer = append(q.Answer, &dns.PTR{Hdr: dns.RR_Header{Name: "_storebox._tcp.local.", Rrtype: dns.TypePTR, Class: dns.ClassINET, Ttl: 4000}, Ptr: "other" + string(rune('a'+i%26)) + "._storebox._tcp.local."})
		q.Answer = append(q.Answer, &dns.A{Hdr: dns.RR_Header{Name: "x.local.", Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 4000}, A: []byte{10, 0, 0, byte(i)}})
	}
	if r.respond(overWire(t, q), m, false) == nil {
		t.Fatal("others' known answers suppressed ours")
	}
	known := r.ptr(otherTTL)
	known.Header().Ttl = 3000
	q.Answer = append(q.Answer, known)
	if resp := r.respond(overWire(t, q), m, false); resp != nil {
		t.Fatalf("our known answer among 600 was not suppressed: %v", resp.Answer)
	}
}

// An answer held back by the multicast limit goes out once its second is
// over, so a browser that starts just after another still hears it.
func TestHeldAnswerGoesOutAfterTheGap(t *testing.T) {
	r, m := testResponder()
	r.done = make(chan struct{})
	defer close(r.done)
	b := pack(t, query("_storebox._tcp.local.", dns.TypePTR))
	start := time.Now()
	if out, _ := r.reply(b, m, onLinkMDNS, start); out == nil {
		t.Fatal("no first answer")
	}
	if out, _ := r.reply(b, m, onLinkMDNS, time.Now()); out != nil {
		t.Fatal("second answer within the gap")
	}
	key := keyOf(r.ptr(otherTTL))
	deadline := time.Now().Add(5 * time.Second)
	for {
		r.rate.mu.Lock()
		last := r.rate.last[m.ifi.Index][key]
		r.rate.mu.Unlock()
		if last.After(start) {
			if gap := last.Sub(start); gap < multicastGap {
				t.Fatalf("held answer sent after %v, before the gap", gap)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("held answer never sent")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
