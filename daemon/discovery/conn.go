package discovery

import (
	"net"
	"net/netip"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// probeConn is one bound UDP socket that reports, per datagram, the header
// destination and the arrival interface, and can answer from a chosen
// source address.
type probeConn interface {
	read(b []byte) (n int, src netip.AddrPort, dst netip.Addr, ifIndex int, err error)
	reply(b []byte, to netip.AddrPort, from netip.Addr) error
	local() netip.AddrPort
	close() error
}

// newProbeConn wraps c. withCM is false where the platform has no packet
// info; answers then fall back to routing-table addresses.
func newProbeConn(c *net.UDPConn, v6 bool) (pc probeConn, withCM bool) {
	if v6 {
		p := ipv6.NewPacketConn(c)
		err := p.SetControlMessage(ipv6.FlagDst|ipv6.FlagInterface, true)
		return &conn6{c: c, p: p}, err == nil
	}
	p := ipv4.NewPacketConn(c)
	err := p.SetControlMessage(ipv4.FlagDst|ipv4.FlagInterface, true)
	return &conn4{c: c, p: p}, err == nil
}

type conn4 struct {
	c *net.UDPConn
	p *ipv4.PacketConn
}

func (c *conn4) read(b []byte) (int, netip.AddrPort, netip.Addr, int, error) {
	n, cm, src, err := c.p.ReadFrom(b)
	if err != nil {
		return n, netip.AddrPort{}, netip.Addr{}, 0, err
	}
	var dst netip.Addr
	var ifIndex int
	if cm != nil {
		dst, _ = netip.AddrFromSlice(cm.Dst)
		ifIndex = cm.IfIndex
	}
	return n, udpAddrPort(src), dst.Unmap(), ifIndex, nil
}

func (c *conn4) reply(b []byte, to netip.AddrPort, from netip.Addr) error {
	dst := net.UDPAddrFromAddrPort(to)
	if from.IsValid() {
		if _, err := c.p.WriteTo(b, &ipv4.ControlMessage{Src: from.AsSlice()}, dst); err == nil {
			return nil
		}
	}
	_, err := c.p.WriteTo(b, nil, dst)
	return err
}

func (c *conn4) local() netip.AddrPort { return udpAddrPort(c.c.LocalAddr()) }
func (c *conn4) close() error          { return c.c.Close() }

type conn6 struct {
	c *net.UDPConn
	p *ipv6.PacketConn
}

func (c *conn6) read(b []byte) (int, netip.AddrPort, netip.Addr, int, error) {
	n, cm, src, err := c.p.ReadFrom(b)
	if err != nil {
		return n, netip.AddrPort{}, netip.Addr{}, 0, err
	}
	var dst netip.Addr
	var ifIndex int
	if cm != nil {
		dst, _ = netip.AddrFromSlice(cm.Dst)
		ifIndex = cm.IfIndex
	}
	return n, udpAddrPort(src), dst.Unmap(), ifIndex, nil
}

func (c *conn6) reply(b []byte, to netip.AddrPort, from netip.Addr) error {
	dst := net.UDPAddrFromAddrPort(to)
	if from.IsValid() && !from.Is4() {
		if _, err := c.p.WriteTo(b, &ipv6.ControlMessage{Src: from.AsSlice()}, dst); err == nil {
			return nil
		}
	}
	_, err := c.p.WriteTo(b, nil, dst)
	return err
}

func (c *conn6) local() netip.AddrPort { return udpAddrPort(c.c.LocalAddr()) }
func (c *conn6) close() error          { return c.c.Close() }

func udpAddrPort(a net.Addr) netip.AddrPort {
	if u, ok := a.(*net.UDPAddr); ok {
		return u.AddrPort()
	}
	return netip.AddrPort{}
}
