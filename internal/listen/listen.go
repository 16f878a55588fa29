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
	"sync"
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
		err = describe(errno)
	case errors.As(err, &oe) && oe.Err != nil:
		err = oe.Err
	}
	return fmt.Errorf("%s %s: %w", key, addr, err)
}

// Held is a TCP listener bound ahead of Serve, so a taken port fails the
// daemon's start, and bound again for a restart. The zero value is not
// usable; set Key and Addr.
type Held struct {
	Key  string // config key, for errors: "devices.listen"
	Addr string // what to bind: ":8686"

	mu    sync.Mutex
	ln    net.Listener // bound and not yet taken
	bound net.Addr     // the last bound address
}

// Bind binds unless a bound listener waits to be taken.
func (h *Held) Bind() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ln != nil {
		return nil
	}
	ln, err := TCP(h.Key, h.Addr)
	if err != nil {
		return err
	}
	h.ln, h.bound = ln, ln.Addr()
	return nil
}

// Take hands the bound listener (binding first if needed) to Serve, which
// closes it when it returns; a restart binds a fresh one.
func (h *Held) Take() (net.Listener, error) {
	if err := h.Bind(); err != nil {
		return nil, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	ln := h.ln
	h.ln = nil
	return ln, nil
}

// Bound is the last bound address (nil before the first Bind).
func (h *Held) Bound() net.Addr {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.bound
}

// Close closes a listener that was bound and never taken.
func (h *Held) Close() error {
	h.mu.Lock()
	ln := h.ln
	h.ln = nil
	h.mu.Unlock()
	if ln != nil {
		return ln.Close()
	}
	return nil
}
