package discovery

import (
	"net"
	"net/netip"
	"sync"
	"time"
)

// localAddrs answers "which of my addresses did this probe reach?". A probe
// sent to one of the daemon's unicast addresses names it in its destination
// (IP_PKTINFO / IPV6_PKTINFO); a broadcast or multicast probe does not, and
// then the address comes from the interface it arrived on: the one sharing
// the source's subnet, else the interface's first address of that family.
//
// Interface addresses are cached and refreshed when stale or when a
// destination is not a known local address (a DHCP lease may have changed).
type localAddrs struct {
	maxAge     time.Duration
	minRefresh time.Duration

	mu      sync.Mutex
	at      time.Time
	byIndex map[int][]netip.Prefix
	all     map[netip.Addr]bool
	bcast   map[netip.Addr]bool // directed broadcast addresses of local IPv4 subnets
}

func newLocalAddrs() *localAddrs {
	return &localAddrs{maxAge: 30 * time.Second, minRefresh: time.Second}
}

// hostFor returns the daemon's address for a probe from src that arrived
// with header destination dst (zero if unknown) on interface ifIndex (0 if
// unknown). It returns the zero Addr only when no address can be found.
func (l *localAddrs) hostFor(dst netip.Addr, ifIndex int, src netip.Addr, now time.Time) netip.Addr {
	// A zoned address never matches a prefix; the zone adds nothing here.
	dst, src = dst.WithZone("").Unmap(), src.WithZone("").Unmap()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.at) >= l.maxAge {
		l.refresh(now)
	}
	if dst.IsValid() && !dst.IsUnspecified() && !dst.IsMulticast() && dst != netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		if !l.all[dst] && !l.bcast[dst] && now.Sub(l.at) >= l.minRefresh {
			l.refresh(now)
		}
		if !l.bcast[dst] {
			// A unicast datagram is only delivered to an address this host
			// owns (127.0.0.5 included), so the destination is the answer.
			return dst
		}
	}
	if ifIndex > 0 {
		if a := pick(l.byIndex[ifIndex], src); a.IsValid() {
			return a
		}
	}
	for _, ps := range l.byIndex {
		for _, p := range ps {
			if p.Contains(src) {
				return p.Addr()
			}
		}
	}
	return routeSource(src)
}

// pick chooses, among an interface's prefixes, the address in src's subnet,
// else the first one of src's family that is not link-local, else any of it.
func pick(ps []netip.Prefix, src netip.Addr) netip.Addr {
	var first, linkLocal netip.Addr
	for _, p := range ps {
		a := p.Addr()
		if a.Is4() != src.Is4() {
			continue
		}
		if p.Contains(src) {
			return a
		}
		if a.IsLinkLocalUnicast() {
			if !linkLocal.IsValid() {
				linkLocal = a
			}
		} else if !first.IsValid() {
			first = a
		}
	}
	if first.IsValid() {
		return first
	}
	return linkLocal
}

// routeSource asks the routing table which source address would be used to
// reach dst. No packet is sent.
func routeSource(dst netip.Addr) netip.Addr {
	if !dst.IsValid() {
		return netip.Addr{}
	}
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(dst, 9)))
	if err != nil {
		return netip.Addr{}
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).AddrPort().Addr().Unmap()
}

func (l *localAddrs) refresh(now time.Time) {
	l.at = now
	l.byIndex = make(map[int][]netip.Prefix)
	l.all = make(map[netip.Addr]bool)
	l.bcast = make(map[netip.Addr]bool)
	ifaces, err := net.Interfaces()
	if err != nil {
		return
	}
	for _, ifi := range ifaces {
		if ifi.Flags&net.FlagUp == 0 {
			continue
		}
		addrs, err := ifi.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			ip, ok := netip.AddrFromSlice(ipn.IP)
			if !ok {
				continue
			}
			ip = ip.Unmap()
			ones, _ := ipn.Mask.Size()
			p := netip.PrefixFrom(ip, ones)
			l.byIndex[ifi.Index] = append(l.byIndex[ifi.Index], p)
			l.all[ip] = true
			if ip.Is4() && ones < 31 {
				l.bcast[lastAddr(p)] = true
			}
		}
	}
}

// lastAddr is the highest address of an IPv4 prefix: its directed broadcast.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]) | host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}
