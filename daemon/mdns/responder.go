// Package mdns advertises the box over multicast DNS (DNS-SD
// _storebox._tcp, RFC 6762/6763) with a responder of its own; browsing is
// discovery.Find's, with grandcat/zeroconf.
package mdns

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"

	"github.com/storebox/storebox/internal/dgram"
)

// The mDNS responder. grandcat/zeroconf (still used to browse, in Find)
// advertises every interface address whatever the device listener is bound
// to, gives SRV/TXT/PTR a 3,200 s TTL and leaves the cache-flush bit off the
// records of a browse answer; a device that follows such a record may get
// "connection refused", and a box that changes address stays wrong in caches
// for an hour. This responder answers the few names storebox owns, per
// RFC 6762/6763:
//   - on each interface, only that interface's addresses the device listener
//     accepts on (all of them for a wildcard bind, the one for a specific IP,
//     none for loopback);
//   - TTL 120 s for records naming a host (SRV, A, AAAA), 4,500 s for the
//     others (PTR, TXT) (RFC 6762 §10);
//   - the cache-flush bit on unique records (SRV, TXT, A, AAAA), never on the
//     shared PTR, and never in legacy unicast answers (§10.2, §6.7);
//   - known-answer suppression (§7.1), legacy unicast (§6.7), QU questions
//     answered unicast (§5.4), two announcements at start (§8.3) and goodbyes
//     (TTL 0) at stop (§10.1).
//
// A store's LAN is not trusted, so a query costs the box little and gets
// it nowhere (answer.go): only queries from a source on the receiving
// interface's link are answered at all (§11), every reply goes out with
// IP TTL 255, each question is answered once however often a packet
// repeats it, at most maxQuestions questions and every known answer are
// looked at once each (a hash set, linear in the packet), a reply is never
// more than replyFactor times its query nor more than one packet, and a
// record is multicast on an interface at most once a second (§6).
//
// It does not probe for name conflicts (§8.1): the SRV target is a name of
// storebox's own ("storebox-<hostname>.local."), so it never competes with
// the host's avahi for the host name, and the instance is the store's name.
const (
	mdnsPort     = 5353
	hostTTL      = 120  // records that name a host: SRV, A, AAAA
	otherTTL     = 4500 // PTR, TXT
	legacyMaxTTL = 10   // RFC 6762 §6.7
	cacheFlush   = 1 << 15
	maxMDNSSize  = 9000 // RFC 6762 §17: a packet may be up to the interface MTU; jumbo is the most
	servicesName = "_services._dns-sd._udp.local."
)

var (
	mdnsGroup4 = netip.MustParseAddr("224.0.0.251")
	mdnsGroup6 = netip.MustParseAddr("ff02::fb")
)

// mdnsNames are the names and data one service instance answers for.
type mdnsNames struct {
	service  string // "_storebox._tcp.local."
	instance string // "<escaped label>._storebox._tcp.local."
	host     string // "storebox-<hostname>.local."
	port     uint16
	txt      []string
}

// mdnsIface is one interface the responder answers on, with the addresses
// it advertises there.
type mdnsIface struct {
	ifi    net.Interface
	v4, v6 []netip.Addr
	// links are the prefixes of every address the interface holds
	// (advertised or not): a query's source must be in one (§11).
	links []netip.Prefix
}

// advertisedIfaces lists the interfaces and addresses a device on the LAN can
// reach the device listener through. deviceHost is the listener's bound IP
// (unspecified or invalid: every address). reason says why the list is empty.
func advertisedIfaces(deviceHost netip.Addr) (list []mdnsIface, reason string) {
	deviceHost = deviceHost.Unmap().WithZone("")
	if deviceHost.IsLoopback() {
		return nil, fmt.Sprintf("devices.listen is bound to %s, a loopback address no device on the LAN can reach", deviceHost)
	}
	ifaces, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Sprintf("listing interfaces: %v", err)
	}
	any := !deviceHost.IsValid() || deviceHost.IsUnspecified()
	for _, ifi := range ifaces {
		if ifi.Flags&net.FlagUp == 0 || ifi.Flags&net.FlagMulticast == 0 || ifi.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, err := ifi.Addrs()
		if err != nil {
			continue
		}
		m := mdnsIface{ifi: ifi}
		var linkLocal6 []netip.Addr
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			ip, ok := netip.AddrFromSlice(ipn.IP)
			if !ok || ip.IsLoopback() {
				continue
			}
			ip = ip.Unmap()
			ones, _ := ipn.Mask.Size()
			if ip.Is4() && ones > 32 {
				ones -= 96
			}
			if p, err := ip.Prefix(ones); err == nil {
				m.links = append(m.links, p)
			}
			if !any && ip != deviceHost {
				continue
			}
			switch {
			case ip.Is4():
				m.v4 = append(m.v4, ip)
			case ip.IsLinkLocalUnicast():
				linkLocal6 = append(linkLocal6, ip)
			default:
				m.v6 = append(m.v6, ip)
			}
		}
		// A link-local IPv6 address is ambiguous across links; advertise it
		// only where the interface has nothing better.
		if len(m.v6) == 0 && len(m.v4) == 0 {
			m.v6 = linkLocal6
		}
		if len(m.v4)+len(m.v6) > 0 {
			list = append(list, m)
		}
	}
	if len(list) == 0 {
		if any {
			return nil, "no up multicast interface with an address"
		}
		return nil, fmt.Sprintf("no up multicast interface holds %s, the address devices.listen is bound to", deviceHost)
	}
	return list, ""
}

// ifaceKey is a comparable summary of an interface list: the responder is
// rebuilt when it changes.
func ifaceKey(list []mdnsIface) string {
	var out []string
	for _, m := range list {
		for _, a := range slices.Concat(m.v4, m.v6) {
			out = append(out, fmt.Sprintf("%s#%d=%s", m.ifi.Name, m.ifi.Index, a))
		}
	}
	slices.Sort(out)
	return strings.Join(out, ",")
}

// mdnsHostName is the SRV target: a name storebox owns, derived from the
// host name so a technician recognises it.
func mdnsHostName() string {
	h, _ := os.Hostname()
	if i := strings.IndexByte(h, '.'); i >= 0 {
		h = h[:i]
	}
	var b strings.Builder
	for _, c := range strings.ToLower(h) {
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' {
			b.WriteRune(c)
		}
	}
	name := strings.Trim(b.String(), "-")
	if name == "" {
		return "storebox.local."
	}
	if len(name) > 50 {
		name = name[:50]
	}
	return "storebox-" + name + ".local."
}

// responder answers mDNS queries for one instance on a fixed set of
// interfaces. Build it with newResponder, run it with serve, stop it with
// close (which says goodbye).
type responder struct {
	names  mdnsNames
	ifaces map[int]mdnsIface
	log    *slog.Logger
	p4     *ipv4.PacketConn
	p6     *ipv6.PacketConn

	sendMu    sync.Mutex // the outgoing interface is a socket option
	rate      multicastRate
	closeOnce sync.Once
	done      chan struct{}
}

func newResponder(names mdnsNames, ifaces []mdnsIface, log *slog.Logger) (*responder, error) {
	r := &responder{names: names, ifaces: map[int]mdnsIface{}, log: log, done: make(chan struct{})}
	var want4, want6 bool
	for _, m := range ifaces {
		r.ifaces[m.ifi.Index] = m
		want4 = want4 || len(m.v4) > 0
		want6 = want6 || len(m.v6) > 0
	}
	var errs []error
	if want4 {
		p, err := joinMDNS4(ifaces)
		if err != nil {
			errs = append(errs, err)
		}
		r.p4 = p
	}
	if want6 {
		p, err := joinMDNS6(ifaces)
		if err != nil {
			errs = append(errs, err)
		}
		r.p6 = p
	}
	if r.p4 == nil && r.p6 == nil {
		return nil, fmt.Errorf("mdns: %w", errors.Join(errs...))
	}
	for _, err := range errs {
		log.Info("discovery: mDNS on one address family only", "err", err)
	}
	return r, nil
}

// joinMDNS4 binds 224.0.0.251:5353 (Go sets SO_REUSEADDR on a multicast
// bind, so the host's own avahi can share the port) and joins the group on
// each interface that advertises an IPv4 address.
func joinMDNS4(ifaces []mdnsIface) (*ipv4.PacketConn, error) {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: mdnsGroup4.AsSlice(), Port: mdnsPort})
	if err != nil {
		return nil, fmt.Errorf("bind %s:%d: %w", mdnsGroup4, mdnsPort, err)
	}
	p := ipv4.NewPacketConn(c)
	joined := 0
	for _, m := range ifaces {
		if len(m.v4) == 0 {
			continue
		}
		if err := p.JoinGroup(&m.ifi, &net.UDPAddr{IP: mdnsGroup4.AsSlice()}); err == nil {
			joined++
		}
	}
	if joined == 0 {
		c.Close()
		return nil, errors.New("could not join 224.0.0.251 on any interface")
	}
	_ = p.SetControlMessage(ipv4.FlagInterface, true)
	_ = p.SetMulticastTTL(255)
	_ = p.SetTTL(255)                // unicast replies too (§11)
	_ = p.SetMulticastLoopback(true) // a browser on the box itself (storebox discover) sees it
	return p, nil
}

func joinMDNS6(ifaces []mdnsIface) (*ipv6.PacketConn, error) {
	c, err := net.ListenUDP("udp6", &net.UDPAddr{IP: mdnsGroup6.AsSlice(), Port: mdnsPort})
	if err != nil {
		return nil, fmt.Errorf("bind [%s]:%d: %w", mdnsGroup6, mdnsPort, err)
	}
	p := ipv6.NewPacketConn(c)
	joined := 0
	for _, m := range ifaces {
		if len(m.v6) == 0 {
			continue
		}
		if err := p.JoinGroup(&m.ifi, &net.UDPAddr{IP: mdnsGroup6.AsSlice()}); err == nil {
			joined++
		}
	}
	if joined == 0 {
		c.Close()
		return nil, errors.New("could not join ff02::fb on any interface")
	}
	_ = p.SetControlMessage(ipv6.FlagInterface, true)
	_ = p.SetMulticastHopLimit(255)
	_ = p.SetHopLimit(255) // unicast replies too (§11)
	_ = p.SetMulticastLoopback(true)
	return p, nil
}

// serve reads queries until close. It announces first (twice, a second
// apart, RFC 6762 §8.3).
func (r *responder) serve() {
	var wg sync.WaitGroup
	if r.p4 != nil {
		wg.Go(func() { r.read4() })
	}
	if r.p6 != nil {
		wg.Go(func() { r.read6() })
	}
	wg.Go(func() {
		for i := 0; i < 2; i++ {
			r.announce(false)
			select {
			case <-r.done:
				return
			case <-time.After(time.Second):
			}
		}
	})
	wg.Wait()
}

// close sends goodbyes (TTL 0) so caches drop the records at once, then
// closes the sockets; serve returns.
func (r *responder) close() {
	r.closeOnce.Do(func() {
		close(r.done)
		r.announce(true)
		if r.p4 != nil {
			r.p4.Close()
		}
		if r.p6 != nil {
			r.p6.Close()
		}
	})
}

// announce multicasts every record on every interface: the announcement, or
// with goodbye the same records with TTL 0.
func (r *responder) announce(goodbye bool) {
	for _, m := range r.ifaces {
		msg := new(dns.Msg)
		msg.Response, msg.Authoritative = true, true
		msg.Answer = append(msg.Answer, r.ptr(0), r.srv(0, true), r.txt(0, true))
		msg.Answer = append(msg.Answer, r.addrs(m, 0, true, true, true)...)
		if goodbye {
			for _, rr := range msg.Answer {
				rr.Header().Ttl = 0
			}
		} else {
			r.rate.sent(m.ifi.Index, msg.Answer, time.Now())
		}
		b, err := msg.Pack()
		if err != nil {
			r.log.Warn("discovery: mDNS announcement not packed", "err", err)
			continue
		}
		r.sendMulticast(b, m)
	}
}

// read4 and read6 answer queries until close. A read error other than the
// socket being closed (an oversize datagram on Windows, a transient
// network error) is logged, once per cause, and reading goes on.
func (r *responder) read4() {
	buf := make([]byte, maxMDNSSize)
	var last string
	for {
		n, cm, from, err := r.p4.ReadFrom(buf)
		if err != nil {
			if !r.readFailed(err, &last) {
				return
			}
			continue
		}
		ifIndex := 0
		if cm != nil {
			ifIndex = cm.IfIndex
		}
		r.handle(buf[:n], r.arrivalIface(ifIndex, from), from)
	}
}

func (r *responder) read6() {
	buf := make([]byte, maxMDNSSize)
	var last string
	for {
		n, cm, from, err := r.p6.ReadFrom(buf)
		if err != nil {
			if !r.readFailed(err, &last) {
				return
			}
			continue
		}
		ifIndex := 0
		if cm != nil {
			ifIndex = cm.IfIndex
		}
		r.handle(buf[:n], r.arrivalIface(ifIndex, from), from)
	}
}

// readFailed reports whether reading should go on after err; it logs a
// cause once (last holds the previous one) and paces a repeating error.
func (r *responder) readFailed(err error, last *string) bool {
	select {
	case <-r.done:
		return false
	default:
	}
	if errors.Is(err, net.ErrClosed) {
		return false
	}
	if dgram.TooLong(err) {
		r.log.Debug("discovery: mDNS ignored an oversize datagram", "err", err)
		return true
	}
	if msg := err.Error(); msg != *last {
		r.log.Warn("discovery: mDNS read failed; reading on", "err", err)
		*last = msg
	}
	select {
	case <-r.done:
		return false
	case <-time.After(100 * time.Millisecond):
		return true
	}
}

// arrivalIface is the index of the interface a datagram from came in on:
// the control message's when the platform gives one (ifIndex != 0), else
// the interface whose on-link prefix holds the source (Windows gives no
// control messages), or an IPv6 source's zone, or the only interface.
func (r *responder) arrivalIface(ifIndex int, from net.Addr) int {
	if ifIndex != 0 {
		return ifIndex
	}
	src, _ := from.(*net.UDPAddr)
	if src == nil {
		return 0
	}
	ip, _ := netip.AddrFromSlice(src.IP)
	ip = ip.Unmap()
	if src.Zone != "" {
		for idx, m := range r.ifaces {
			if m.ifi.Name == src.Zone || strconv.Itoa(idx) == src.Zone {
				return idx
			}
		}
	}
	for idx, m := range r.ifaces {
		for _, p := range m.links {
			if p.Contains(ip) {
				return idx
			}
		}
	}
	if len(r.ifaces) == 1 {
		for idx := range r.ifaces {
			return idx
		}
	}
	return 0
}

// handle answers one datagram received on interface ifIndex.
func (r *responder) handle(b []byte, ifIndex int, from net.Addr) {
	m, ok := r.ifaces[ifIndex]
	if !ok {
		return // not an interface the device listener is reachable through
	}
	src, _ := from.(*net.UDPAddr)
	if src == nil {
		return
	}
	out, unicast := r.reply(b, m, src.AddrPort(), time.Now())
	switch {
	case out == nil:
	case unicast:
		r.sendTo(out, src)
	default:
		r.sendMulticast(out, m)
	}
}

// respond builds the answer to query q arriving on interface m, or nil when
// nothing is to be said. A legacy unicast query (source port not 5353) gets
// its id and questions back, TTLs of at most 10 s and no cache-flush bits.
// Each question is looked at once (at most maxQuestions of them), each
// record is answered once, and known answers are one hash-set lookup each.
func (r *responder) respond(q *dns.Msg, m mdnsIface, legacy bool) *dns.Msg {
	flush := !legacy
	var answers, extra []dns.RR
	var asked []dns.Question // ours, each once
	seen := map[question]bool{}
	for _, qq := range q.Question[:min(len(q.Question), maxQuestions)] {
		name, t := qq.Name, qq.Qtype
		key := question{strings.ToLower(name), t}
		if !r.ours(name) || seen[key] {
			continue
		}
		seen[key] = true
		asked = append(asked, qq)
		want := func(types ...uint16) bool { return t == dns.TypeANY || slices.Contains(types, t) }
		switch {
		case strings.EqualFold(name, servicesName):
			if want(dns.TypePTR) {
				answers = append(answers, r.servicePTR())
			}
		case strings.EqualFold(name, r.names.service):
			if want(dns.TypePTR) {
				answers = append(answers, r.ptr(otherTTL))
				extra = append(extra, r.srv(hostTTL, flush), r.txt(otherTTL, flush))
				extra = append(extra, r.addrs(m, hostTTL, flush, true, true)...)
			}
		case strings.EqualFold(name, r.names.instance):
			if want(dns.TypeSRV) {
				answers = append(answers, r.srv(hostTTL, flush))
			}
			if want(dns.TypeTXT) {
				answers = append(answers, r.txt(otherTTL, flush))
			}
			if want(dns.TypeSRV) {
				extra = append(extra, r.addrs(m, hostTTL, flush, true, true)...)
			}
		case strings.EqualFold(name, r.names.host):
			answers = append(answers, r.addrs(m, hostTTL, flush, want(dns.TypeA), want(dns.TypeAAAA))...)
		}
	}
	if len(answers) == 0 {
		return nil
	}
	known := r.knownAnswers(q.Answer)
	answers = slices.DeleteFunc(uniqueRecords(answers, nil), func(a dns.RR) bool {
		ttl, ok := known[keyOf(a)]
		return ok && ttl >= a.Header().Ttl/2 // the querier holds it with at least half its TTL left (§7.1)
	})
	if len(answers) == 0 {
		return nil
	}
	resp := new(dns.Msg)
	resp.Response, resp.Authoritative, resp.Compress = true, true, true
	resp.Answer = answers
	resp.Extra = uniqueRecords(extra, answers)
	if legacy {
		resp.Id = q.Id
		resp.Question = asked // as asked (§6.7), each once
		for _, rr := range slices.Concat(resp.Answer, resp.Extra) {
			rr.Header().Ttl = min(rr.Header().Ttl, legacyMaxTTL)
		}
	}
	return resp
}

func (r *responder) servicePTR() dns.RR {
	return &dns.PTR{Hdr: dns.RR_Header{Name: servicesName, Rrtype: dns.TypePTR, Class: dns.ClassINET, Ttl: otherTTL}, Ptr: r.names.service}
}

// ptr is the shared service → instance record (never cache-flush). ttl 0
// means the announcement TTL.
func (r *responder) ptr(ttl uint32) dns.RR {
	if ttl == 0 {
		ttl = otherTTL
	}
	return &dns.PTR{Hdr: dns.RR_Header{Name: r.names.service, Rrtype: dns.TypePTR, Class: dns.ClassINET, Ttl: ttl}, Ptr: r.names.instance}
}

func (r *responder) srv(ttl uint32, flush bool) dns.RR {
	if ttl == 0 {
		ttl = hostTTL
	}
	return &dns.SRV{Hdr: dns.RR_Header{Name: r.names.instance, Rrtype: dns.TypeSRV, Class: class(flush), Ttl: ttl}, Port: r.names.port, Target: r.names.host}
}

func (r *responder) txt(ttl uint32, flush bool) dns.RR {
	if ttl == 0 {
		ttl = otherTTL
	}
	return &dns.TXT{Hdr: dns.RR_Header{Name: r.names.instance, Rrtype: dns.TypeTXT, Class: class(flush), Ttl: ttl}, Txt: r.names.txt}
}

// addrs are the host's A/AAAA records on interface m.
func (r *responder) addrs(m mdnsIface, ttl uint32, flush, a, aaaa bool) []dns.RR {
	if ttl == 0 {
		ttl = hostTTL
	}
	var out []dns.RR
	if a {
		for _, ip := range m.v4 {
			out = append(out, &dns.A{Hdr: dns.RR_Header{Name: r.names.host, Rrtype: dns.TypeA, Class: class(flush), Ttl: ttl}, A: ip.AsSlice()})
		}
	}
	if aaaa {
		for _, ip := range m.v6 {
			out = append(out, &dns.AAAA{Hdr: dns.RR_Header{Name: r.names.host, Rrtype: dns.TypeAAAA, Class: class(flush), Ttl: ttl}, AAAA: ip.AsSlice()})
		}
	}
	return out
}

func class(flush bool) uint16 {
	if flush {
		return dns.ClassINET | cacheFlush
	}
	return dns.ClassINET
}

func (r *responder) sendMulticast(b []byte, m mdnsIface) {
	var err error
	r.sendMu.Lock()
	defer r.sendMu.Unlock()
	if r.p4 != nil && len(m.v4) > 0 {
		if err = r.p4.SetMulticastInterface(&m.ifi); err == nil {
			_, err = r.p4.WriteTo(b, nil, &net.UDPAddr{IP: mdnsGroup4.AsSlice(), Port: mdnsPort})
		}
	}
	if r.p6 != nil && len(m.v6) > 0 {
		if err = r.p6.SetMulticastInterface(&m.ifi); err == nil {
			_, err = r.p6.WriteTo(b, nil, &net.UDPAddr{IP: mdnsGroup6.AsSlice(), Port: mdnsPort})
		}
	}
	if err != nil && !errors.Is(err, net.ErrClosed) {
		r.log.Debug("discovery: mDNS multicast not sent", "iface", m.ifi.Name, "err", err)
	}
}

func (r *responder) sendTo(b []byte, to *net.UDPAddr) {
	var err error
	r.sendMu.Lock()
	defer r.sendMu.Unlock()
	if to.IP.To4() != nil && r.p4 != nil {
		_, err = r.p4.WriteTo(b, nil, to)
	} else if r.p6 != nil {
		_, err = r.p6.WriteTo(b, nil, to)
	}
	if err != nil && !errors.Is(err, net.ErrClosed) {
		r.log.Debug("discovery: mDNS unicast answer not sent", "to", to, "err", err)
	}
}
