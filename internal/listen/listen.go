// Package listen binds the daemon's sockets and words a failure the same
// way for every listener: the config key, the address, the cause, as in
// "devices.listen 0.0.0.0:8686: address already in use". errors.Is still
// matches the errno (syscall.EADDRINUSE).
package listen

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"syscall"
)

// TCP binds addr for the config key key.
func TCP(key, addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, Error(key, addr, err)
	}
	return ln, nil
}

// UDP binds at on network ("udp4" or "udp6") for the config key key.
func UDP(key, network string, at netip.AddrPort) (*net.UDPConn, error) {
	c, err := net.ListenUDP(network, net.UDPAddrFromAddrPort(at))
	if err != nil {
		return nil, Error(key, at.String(), err)
	}
	return c, nil
}

// Error words a bind failure: "KEY ADDR: CAUSE", with an address that has
// no host shown as 0.0.0.0 and the cause reduced to the errno when there
// is one ("address already in use", not "listen tcp :8686: bind: ...").
func Error(key, addr string, err error) error {
	if strings.HasPrefix(addr, ":") {
		addr = "0.0.0.0" + addr
	}
	var errno syscall.Errno
	var oe *net.OpError
	switch {
	case errors.As(err, &errno):
		err = errno
	case errors.As(err, &oe) && oe.Err != nil:
		err = oe.Err
	}
	return fmt.Errorf("%s %s: %w", key, addr, err)
}
