package mdns

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// The bounds a hostile querier meets (see responder.go).
const (
	// maxQuestions is how many questions of one packet are looked at; a
	// querier batching every service it browses stays far below it.
	maxQuestions = 64
	// replyFactor: a reply is at most this many times its query's size
	// (RFC 6762 §6 asks for no amplification; §11 for none off-link).
	replyFactor = 10
	// maxReply is one packet on an Ethernet link: 1500 bytes less the
	// IPv6 and UDP headers.
	maxReply = 1452
	// multicastGap is how long a record stays off an interface after it
	// was multicast there (RFC 6762 §6).
	multicastGap = time.Second
)

// question is a question as answered: lower-case name and type (the
// class's QU bit does not make it another question).
type question struct {
	name  string
	qtype uint16
}

// rrKey names a record by owner name, type and data, ignoring TTL and
// the cache-flush bit: what known-answer suppression, de-duplication and
// the multicast rate limit compare.
type rrKey struct {
	name  string // lower case
	rtype uint16
	data  string
}

// keyOf is a's key; ok is false for a type this responder never answers.
func keyOf(a dns.RR) rrKey {
	h := a.Header()
	k := rrKey{name: strings.ToLower(h.Name), rtype: h.Rrtype}
	switch a := a.(type) {
	case *dns.PTR:
		k.data = strings.ToLower(a.Ptr)
	case *dns.SRV:
		k.data = strconv.Itoa(int(a.Priority)) + " " + strconv.Itoa(int(a.Weight)) + " " + strconv.Itoa(int(a.Port)) + " " + strings.ToLower(a.Target)
	case *dns.TXT:
		k.data = strings.Join(a.Txt, "\x00")
	case *dns.A:
		k.data = string(a.A.To4())
	case *dns.AAAA:
		k.data = string(a.AAAA.To16())
	}
	return k
}

// ours reports whether name is one this responder answers for.
func (r *responder) ours(name string) bool {
	return strings.EqualFold(name, servicesName) || strings.EqualFold(name, r.names.service) ||
		strings.EqualFold(name, r.names.instance) || strings.EqualFold(name, r.names.host)
}

// knownAnswers is the query's answer section as a set, record → the
// highest TTL the querier holds it with. Records of other names are
// skipped by a name comparison; none is copied.
func (r *responder) knownAnswers(known []dns.RR) map[rrKey]uint32 {
	set := map[rrKey]uint32{}
	for _, k := range known {
		switch k.(type) {
		case *dns.PTR, *dns.SRV, *dns.TXT, *dns.A, *dns.AAAA:
		default:
			continue
		}
		if !r.ours(k.Header().Name) {
			continue
		}
		key := keyOf(k)
		set[key] = max(set[key], k.Header().Ttl)
	}
	return set
}

// uniqueRecords drops from rrs the records that repeat one earlier in rrs
// or one in other.
func uniqueRecords(rrs, other []dns.RR) []dns.RR {
	seen := make(map[rrKey]bool, len(rrs)+len(other))
	for _, o := range other {
		seen[keyOf(o)] = true
	}
	out := rrs[:0]
	for _, rr := range rrs {
		if k := keyOf(rr); !seen[k] {
			seen[k] = true
			out = append(out, rr)
		}
	}
	return out
}

// multicastRate remembers when each record was last multicast on each
// interface (RFC 6762 §6), and the answers held back until their second is
// over. It holds only this responder's own records, so it stays small
// whatever the queries.
type multicastRate struct {
	mu      sync.Mutex
	last    map[int]map[rrKey]time.Time // interface index → record → last multicast
	held    map[int]map[rrKey]heldRR    // interface index → records due once their gap is over
	pending map[int]bool                // a send of held answers is scheduled
}

// heldRR is a record held back, as an answer or an additional record.
type heldRR struct {
	rr    dns.RR
	extra bool
}

// fresh splits rrs into the records that may be multicast on interface
// ifIndex at now and those multicast there less than multicastGap ago.
func (m *multicastRate) fresh(ifIndex int, rrs []dns.RR, now time.Time) (ok, held []dns.RR) {
	m.mu.Lock()
	defer m.mu.Unlock()
	last := m.last[ifIndex]
	for _, rr := range rrs {
		if t, seen := last[keyOf(rr)]; seen && now.Sub(t) < multicastGap {
			held = append(held, rr)
			continue
		}
		ok = append(ok, rr)
	}
	return ok, held
}

// hold keeps answers for interface ifIndex until their gap is over; it
// returns how long to wait before sending them, and false when a send is
// already scheduled.
func (m *multicastRate) hold(ifIndex int, answers, extra []dns.RR, now time.Time) (time.Duration, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.held == nil {
		m.held, m.pending = map[int]map[rrKey]heldRR{}, map[int]bool{}
	}
	set := m.held[ifIndex]
	if set == nil {
		set = map[rrKey]heldRR{}
		m.held[ifIndex] = set
	}
	for _, rr := range extra {
		if k := keyOf(rr); set[k].rr == nil {
			set[k] = heldRR{rr, true}
		}
	}
	for _, rr := range answers {
		set[keyOf(rr)] = heldRR{rr, false}
	}
	if m.pending[ifIndex] {
		return 0, false
	}
	m.pending[ifIndex] = true
	return m.waitLocked(ifIndex, now), true
}

// waitLocked is how long until the earliest held answer on ifIndex may go.
func (m *multicastRate) waitLocked(ifIndex int, now time.Time) time.Duration {
	wait := multicastGap
	for k := range m.held[ifIndex] {
		if t, ok := m.last[ifIndex][k]; ok {
			wait = min(wait, t.Add(multicastGap).Sub(now))
		} else {
			wait = 0
		}
	}
	return max(wait, 0)
}

// due takes the held records of ifIndex whose gap is over at now; wait > 0
// says when to look again for the rest.
func (m *multicastRate) due(ifIndex int, now time.Time) (answers, extra []dns.RR, wait time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, h := range m.held[ifIndex] {
		if t, ok := m.last[ifIndex][k]; ok && now.Sub(t) < multicastGap {
			continue
		}
		if h.extra {
			extra = append(extra, h.rr)
		} else {
			answers = append(answers, h.rr)
		}
		delete(m.held[ifIndex], k)
	}
	if len(m.held[ifIndex]) > 0 {
		return answers, extra, max(m.waitLocked(ifIndex, now), time.Millisecond)
	}
	m.pending[ifIndex] = false
	return answers, extra, 0
}

// sent records that rrs were multicast on interface ifIndex at now.
func (m *multicastRate) sent(ifIndex int, rrs []dns.RR, now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.last == nil {
		m.last = map[int]map[rrKey]time.Time{}
	}
	last := m.last[ifIndex]
	if last == nil {
		last = map[rrKey]time.Time{}
		m.last[ifIndex] = last
	}
	for _, rr := range rrs {
		last[keyOf(rr)] = now
	}
}

// onLink reports whether src is on the link of interface m: an IPv6
// link-local address, an IPv4 link-local one (RFC 3927), or an address
// in a prefix the interface holds (RFC 6762 §11).
func onLink(src netip.Addr, m mdnsIface) bool {
	src = src.Unmap().WithZone("")
	if src.IsLinkLocalUnicast() {
		return true
	}
	for _, p := range m.links {
		if p.Contains(src) {
			return true
		}
	}
	return false
}

// reply is what the responder sends for datagram b from src received on
// interface m at now: the packed reply and whether it goes back to src by
// unicast (legacy or QU) rather than multicast on m; nil for no reply.
func (r *responder) reply(b []byte, m mdnsIface, src netip.AddrPort, now time.Time) (out []byte, unicast bool) {
	if !onLink(src.Addr(), m) {
		return nil, false // off-link: never answered, by unicast or multicast (§11)
	}
	var q dns.Msg
	if err := q.Unpack(b); err != nil || q.Response || q.Opcode != dns.OpcodeQuery {
		return nil, false
	}
	legacy := src.Port() != mdnsPort
	resp := r.respond(&q, m, legacy)
	if resp == nil {
		return nil, false
	}
	unicast = legacy
	for _, qq := range q.Question[:min(len(q.Question), maxQuestions)] {
		unicast = unicast || qq.Qclass&cacheFlush != 0 // the QU bit (§5.4)
	}
	if !unicast {
		var held []dns.RR
		resp.Answer, held = r.rate.fresh(m.ifi.Index, resp.Answer, now)
		if len(held) > 0 {
			// Once the records' second is over, with what a browser needs
			// to use them: a querier that just started still hears them.
			r.sendHeld(m, held, resp.Extra, now)
		}
		if len(resp.Answer) == 0 {
			return nil, false
		}
		resp.Extra, _ = r.rate.fresh(m.ifi.Index, resp.Extra, now)
	}
	out = fit(resp, min(replyFactor*len(b), maxReply))
	if out != nil && !unicast {
		r.rate.sent(m.ifi.Index, resp.Answer, now)
		r.rate.sent(m.ifi.Index, resp.Extra, now)
	}
	return out, unicast
}

// fit packs resp into at most budget bytes: additional records go first,
// then answers from the end (a legacy reply says so with TC); nil when
// not even one answer fits. resp is left holding what was packed.
func fit(resp *dns.Msg, budget int) []byte {
	for {
		if resp.Len() <= budget {
			b, err := resp.Pack()
			if err != nil || len(b) > budget {
				return nil
			}
			return b
		}
		switch {
		case len(resp.Extra) > 0:
			resp.Extra = resp.Extra[:len(resp.Extra)-1]
		case len(resp.Answer) > 1:
			resp.Answer = resp.Answer[:len(resp.Answer)-1]
			resp.Truncated = len(resp.Question) > 0 // legacy: the resolver may ask over TCP or again
		default:
			return nil
		}
	}
}

// sendHeld multicasts rrs on m as soon as RFC 6762 §6 allows: one send
// per interface is scheduled at a time, and the answers held meanwhile
// join it.
func (r *responder) sendHeld(m mdnsIface, answers, extra []dns.RR, now time.Time) {
	wait, schedule := r.rate.hold(m.ifi.Index, answers, slices.Clone(extra), now)
	if !schedule || r.done == nil {
		return
	}
	var fire func()
	fire = func() {
		select {
		case <-r.done:
			return
		default:
		}
		now := time.Now()
		answers, extra, again := r.rate.due(m.ifi.Index, now)
		if again > 0 {
			time.AfterFunc(again, fire)
		}
		if len(answers) == 0 {
			return
		}
		msg := new(dns.Msg)
		msg.Response, msg.Authoritative, msg.Compress = true, true, true
		msg.Answer, msg.Extra = answers, uniqueRecords(extra, answers)
		b := fit(msg, maxReply)
		if b == nil {
			return
		}
		r.rate.sent(m.ifi.Index, msg.Answer, now)
		r.rate.sent(m.ifi.Index, msg.Extra, now)
		r.sendMulticast(b, m)
	}
	time.AfterFunc(wait, fire)
}
