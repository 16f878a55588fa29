package discovery

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/grandcat/zeroconf"

	wire "github.com/storebox/storebox/protocol/discovery"
)

// advertise keeps the mDNS registration up until ctx is done. zeroconf
// captures the host's addresses when registering, so the registration is
// redone whenever the set of multicast interface addresses changes (a mini-PC
// often boots before DHCP answers); a failure is a warning, retried on the
// same schedule.
func (s *Service) advertise(ctx context.Context) {
	if s.cfg.DevicePort == 0 {
		s.log.Warn("discovery: mDNS not advertised: no device port")
		return
	}
	instance := wire.InstanceName(s.cfg.StoreName)
	txt, err := s.answer(netip.Addr{}).TXT()
	if err != nil {
		s.log.Warn("discovery: mDNS not advertised", "err", err)
		return
	}
	for i := range txt {
		txt[i] = escapeTXT(txt[i])
	}

	var (
		srv     *zeroconf.Server
		current string // address set srv was registered with
		lastErr string
	)
	defer func() {
		if srv != nil {
			srv.Shutdown()
		}
	}()
	tick := time.NewTicker(s.mdnsIv)
	defer tick.Stop()
	for {
		addrs := multicastAddrs()
		if srv == nil || addrs != current {
			if srv != nil {
				srv.Shutdown()
				srv = nil
			}
			if addrs == "" {
				err = fmt.Errorf("no up multicast interface with an address")
			} else {
				srv, err = zeroconf.Register(escapeLabel(instance), wire.MDNSService, wire.MDNSDomain, s.cfg.DevicePort, txt, nil)
			}
			if err != nil {
				if err.Error() != lastErr {
					s.log.Warn("discovery: mDNS advertisement failed; UDP discovery still works; will retry", "err", err)
					lastErr = err.Error()
				}
			} else {
				current, lastErr = addrs, ""
				s.log.Info("discovery: mDNS advertising", "service", wire.MDNSService, "instance", instance, "port", s.cfg.DevicePort, "addrs", addrs)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// multicastAddrs lists, as one comparable string, the non-loopback addresses
// of the up multicast interfaces: the ones zeroconf would advertise.
func multicastAddrs() string {
	ifaces, err := net.Interfaces()
	if err != nil {
		return ""
	}
	var out []string
	for _, ifi := range ifaces {
		if ifi.Flags&net.FlagUp == 0 || ifi.Flags&net.FlagMulticast == 0 {
			continue
		}
		addrs, err := ifi.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && !ipn.IP.IsLoopback() {
				out = append(out, ifi.Name+"="+ipn.IP.String())
			}
		}
	}
	slices.Sort(out)
	return strings.Join(out, ",")
}

// escapeLabel writes a DNS label in the presentation format zeroconf (and
// miekg/dns underneath) expects, escaping exactly as miekg/dns does when it
// unpacks a name, so the instance name we register matches the names in
// incoming queries byte for byte: ". ( ) ; space @ \" \\" get a backslash,
// bytes outside printable ASCII become \DDD.
func escapeLabel(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case strings.IndexByte(`.();@"\ `, c) >= 0:
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < ' ' || c > '~':
			fmt.Fprintf(&b, "\\%03d", c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// escapeTXT protects the one byte miekg/dns interprets when packing a TXT
// string: the backslash.
func escapeTXT(s string) string { return strings.ReplaceAll(s, `\`, `\\`) }

// unescapeDNS reverses miekg/dns's presentation escaping (\X and \DDD), for
// instance names and TXT strings read by a browser.
func unescapeDNS(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			b.WriteByte(c)
			continue
		}
		if i+3 < len(s) && isDigit(s[i+1]) && isDigit(s[i+2]) && isDigit(s[i+3]) {
			n, _ := strconv.Atoi(s[i+1 : i+4])
			if n <= 255 {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i+1])
		i++
	}
	return b.String()
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
