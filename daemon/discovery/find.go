package discovery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/grandcat/zeroconf"

	"github.com/storebox/storebox/daemon/mdns"

	wire "github.com/storebox/storebox/protocol/discovery"
)

// FindOptions says how to look for boxes.
type FindOptions struct {
	// Targets are UDP addresses to probe. Empty means BroadcastTargets.
	Targets []string
	// Timeout is how long to wait for answers (default 2s).
	Timeout time.Duration
	// MDNS also browses _storebox._tcp.
	MDNS bool
	// BrowseOnly browses mDNS without sending a UDP probe (doctor checks
	// the advertisement apart from the responder). A browse that cannot
	// start is then Find's error.
	BrowseOnly bool
	// EquipID and Kind label the probe (defaults: "storebox-cli-<hostname>", "cli").
	EquipID, Kind string
	// Log receives warnings (a target that cannot be reached, no mDNS).
	Log *slog.Logger
}

// Box is one storebox that answered, merged over every way it answered.
type Box struct {
	wire.Answer
	// Addrs are every address it was seen at; Host is the first.
	Addrs []string `json:"addrs"`
	// Via lists how it answered: "udp", "mdns".
	Via []string `json:"via"`
}

// BroadcastTargets are the default probe destinations: the limited
// broadcast, which leaves by the default route only, plus the directed
// broadcast of every up IPv4 interface (a multi-homed box has several LANs)
// and the loopback, all on the default port.
func BroadcastTargets() []string {
	port := fmt.Sprint(wire.DefaultPort)
	out := []string{net.JoinHostPort("255.255.255.255", port)}
	ifaces, _ := net.Interfaces()
	for _, ifi := range ifaces {
		if ifi.Flags&net.FlagUp == 0 || ifi.Flags&net.FlagBroadcast == 0 {
			continue
		}
		addrs, _ := ifi.Addrs()
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			ip, ok := netip.AddrFromSlice(ipn.IP)
			ones, _ := ipn.Mask.Size()
			if !ok || !ip.Unmap().Is4() || ones >= 31 {
				continue
			}
			out = append(out, net.JoinHostPort(lastAddr(netip.PrefixFrom(ip.Unmap(), ones)).String(), port))
		}
	}
	out = append(out, net.JoinHostPort("127.0.0.1", port))
	return slices.Compact(out)
}

// Find probes the targets (and browses mDNS when asked) until the timeout
// or ctx ends, and returns every box that answered, one per store id,
// sorted by store id. Finding nothing is not an error; failing to send to
// every target is.
func Find(ctx context.Context, opt FindOptions) ([]Box, error) {
	if opt.Timeout <= 0 {
		opt.Timeout = 2 * time.Second
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	if len(opt.Targets) == 0 {
		opt.Targets = BroadcastTargets()
	}
	if opt.EquipID == "" {
		h, _ := os.Hostname()
		opt.EquipID = "storebox-cli-" + h
	}
	if opt.Kind == "" {
		opt.Kind = "cli"
	}
	ctx, cancel := context.WithTimeout(ctx, opt.Timeout)
	defer cancel()

	var (
		found   boxes
		mdnsC   = make(chan *zeroconf.ServiceEntry)
		mdnsOn  bool
		udpErr  error
		answers = make(chan udpAnswer)
		udpDone = make(chan error, 1)
	)
	udpOn := !opt.BrowseOnly
	if udpOn {
		go func() { udpDone <- probeUDP(ctx, opt, answers) }()
	}
	if opt.MDNS || opt.BrowseOnly {
		if err := browse(ctx, mdnsC); err != nil {
			if opt.BrowseOnly {
				return nil, fmt.Errorf("mDNS browse: %w", err)
			}
			opt.Log.Warn("mDNS browse unavailable; UDP probe only", "err", err)
		} else {
			mdnsOn = true
		}
	}
	for udpOn || mdnsOn {
		select {
		case a := <-answers:
			found.add(a.answer, a.answer.Host, "udp")
		case udpErr = <-udpDone:
			udpOn = false
		case e, ok := <-mdnsC:
			if !ok {
				mdnsOn = false
				continue
			}
			found.addMDNS(e, opt.Log)
		}
	}
	if udpErr != nil && len(found) == 0 {
		return nil, udpErr
	}
	return found.sorted(), nil
}

type udpAnswer struct {
	answer wire.Answer
}

// probeUDP sends the probe to every target, again at a third and at two
// thirds of the timeout (UDP may drop it), and passes on the answers.
func probeUDP(ctx context.Context, opt FindOptions, out chan<- udpAnswer) error {
	probe, err := wire.Probe{EquipID: opt.EquipID, Kind: opt.Kind}.Encode()
	if err != nil {
		return err
	}
	var dsts []*net.UDPAddr
	for _, t := range opt.Targets {
		ua, err := net.ResolveUDPAddr("udp4", t)
		if err != nil {
			opt.Log.Warn("discover: bad target", "target", t, "err", err)
			continue
		}
		dsts = append(dsts, ua)
	}
	if len(dsts) == 0 {
		return fmt.Errorf("discover: no usable target in %v", opt.Targets)
	}
	c, err := net.ListenUDP("udp4", &net.UDPAddr{})
	if err != nil {
		return fmt.Errorf("discover: open UDP socket: %w", err)
	}
	defer c.Close()
	go func() {
		<-ctx.Done()
		c.SetReadDeadline(time.Now())
	}()

	send := func() error {
		var errs []error
		for _, d := range dsts {
			if _, err := c.WriteToUDP(probe, d); err != nil {
				errs = append(errs, fmt.Errorf("send to %s: %w", d, err))
			}
		}
		if len(errs) == len(dsts) {
			return fmt.Errorf("discover: %w", errors.Join(errs...))
		}
		for _, e := range errs {
			opt.Log.Debug("discover: probe not sent", "err", e)
		}
		return nil
	}
	if err := send(); err != nil {
		return err
	}
	go func() {
		for i := 1; i <= 2; i++ {
			select {
			case <-ctx.Done():
				return
			case <-time.After(opt.Timeout / 3):
				send()
			}
		}
	}()

	buf := make([]byte, 64*1024)
	for {
		n, from, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return nil
			}
			return fmt.Errorf("discover: read: %w", err)
		}
		a, err := wire.ParseAnswer(buf[:n])
		if err != nil {
			opt.Log.Debug("discover: ignored datagram", "from", from.String(), "err", err)
			continue
		}
		if a.Host == "" {
			a.Host = from.Addr().Unmap().String()
		}
		select {
		case out <- udpAnswer{a}:
		case <-ctx.Done():
			return nil
		}
	}
}

// browse starts an mDNS browse; entries arrive on c, which zeroconf closes
// when ctx ends.
func browse(ctx context.Context, c chan *zeroconf.ServiceEntry) error {
	r, err := zeroconf.NewResolver(nil)
	if err != nil {
		// zeroconf wants both families by default; a host without IPv6
		// multicast can still browse over IPv4.
		r, err = zeroconf.NewResolver(zeroconf.SelectIPTraffic(zeroconf.IPv4))
		if err != nil {
			return err
		}
	}
	return r.Browse(ctx, wire.MDNSService, wire.MDNSDomain, c)
}

type boxes []*Box

func (bs *boxes) find(storeID string) *Box {
	for _, b := range *bs {
		if b.StoreID == storeID {
			return b
		}
	}
	return nil
}

func (bs *boxes) add(a wire.Answer, addr, via string) {
	b := bs.find(a.StoreID)
	if b == nil {
		b = &Box{Answer: a}
		*bs = append(*bs, b)
	} else if via == "udp" && !slices.Contains(b.Via, "udp") {
		// The UDP answer is the box's own word (mDNS names are cut to 63
		// bytes): it wins over what mDNS said.
		b.Answer = a
		b.Addrs = append([]string{a.Host}, slices.DeleteFunc(b.Addrs, func(s string) bool { return s == a.Host })...)
	}
	if addr != "" && !slices.Contains(b.Addrs, addr) {
		b.Addrs = append(b.Addrs, addr)
	}
	// A technician on the box itself also gets the loopback answer; the LAN
	// address is the one worth showing first.
	if via == "udp" && isLoopback(b.Host) && !isLoopback(addr) {
		b.Host = addr
		b.Addrs = append([]string{addr}, slices.DeleteFunc(b.Addrs, func(s string) bool { return s == addr })...)
	}
	if !slices.Contains(b.Via, via) {
		b.Via = append(b.Via, via)
	}
}

func (bs *boxes) addMDNS(e *zeroconf.ServiceEntry, log *slog.Logger) {
	txt := make([]string, len(e.Text))
	for i, t := range e.Text {
		txt[i] = mdns.Unescape(t)
	}
	var addrs []string
	for _, ip := range e.AddrIPv4 {
		addrs = append(addrs, ip.String())
	}
	for _, ip := range e.AddrIPv6 {
		addrs = append(addrs, ip.String())
	}
	if len(addrs) == 0 {
		return
	}
	a, err := wire.AnswerFromMDNS(mdns.Unescape(e.Instance), addrs[0], e.Port, txt)
	if err != nil {
		log.Debug("discover: ignored mDNS entry", "instance", e.Instance, "err", err)
		return
	}
	if b := bs.find(a.StoreID); b != nil {
		// Prefer an address the box itself announced over UDP.
		a = b.Answer
	}
	for _, addr := range addrs {
		bs.add(a, addr, "mdns")
	}
}

func (bs boxes) sorted() []Box {
	out := make([]Box, 0, len(bs))
	for _, b := range bs {
		out = append(out, *b)
	}
	slices.SortFunc(out, func(x, y Box) int { return strings.Compare(x.StoreID, y.StoreID) })
	return out
}

func isLoopback(host string) bool {
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}
