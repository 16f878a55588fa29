// Package peerlimit says who a network client is for the daemon's limits
// and caps the connections one client may hold. A client is an IPv4
// address or an IPv6 /64: one host on a SLAAC network owns its whole /64
// and can pick any address in it, so a per-address limit would be no limit.
package peerlimit

import (
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Key is the client an address belongs to: the IPv4 address itself (also
// for IPv4-mapped IPv6), or the IPv6 /64 around it. Zones are dropped.
func Key(a netip.Addr) netip.Prefix {
	a = a.Unmap().WithZone("")
	if a.Is4() {
		return netip.PrefixFrom(a, 32)
	}
	p, _ := a.Prefix(64)
	return p
}

// KeyOf is Key of a socket address (*net.TCPAddr, *net.UDPAddr); the zero
// prefix when it has no IP.
func KeyOf(a net.Addr) netip.Prefix {
	switch a := a.(type) {
	case *net.TCPAddr:
		if ip, ok := netip.AddrFromSlice(a.IP); ok {
			return Key(ip)
		}
	case *net.UDPAddr:
		if ip, ok := netip.AddrFromSlice(a.IP); ok {
			return Key(ip)
		}
	}
	if a == nil {
		return netip.Prefix{}
	}
	return KeyOfString(a.String())
}

// KeyOfString is Key of "host:port" or a bare host (http.Request.RemoteAddr);
// the zero prefix when it holds no IP.
func KeyOfString(s string) netip.Prefix {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return Key(ap.Addr())
	}
	if ip, err := netip.ParseAddr(s); err == nil {
		return Key(ip)
	}
	return netip.Prefix{}
}

// Counter counts open connections per client and refuses one over Max.
type Counter struct {
	max int
	mu  sync.Mutex
	n   map[netip.Prefix]int
}

// NewCounter caps each client at max connections (max < 1: no cap).
func NewCounter(max int) *Counter { return &Counter{max: max, n: map[netip.Prefix]int{}} }

// Acquire takes a connection slot for client k; false when k holds Max.
func (c *Counter) Acquire(k netip.Prefix) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.max > 0 && c.n[k] >= c.max {
		return false
	}
	c.n[k]++
	return true
}

// Release gives back a slot Acquire took.
func (c *Counter) Release(k netip.Prefix) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n[k] <= 1 {
		delete(c.n, k) // the map holds only clients with open connections
		return
	}
	c.n[k]--
}

// Open is the number of connections client k holds.
func (c *Counter) Open(k netip.Prefix) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[k]
}

// Listener is a net.Listener whose Accept hands out only connections of
// clients under the cap and not denied; any other connection is given to
// Refuse (which may write a short reply) and closed, and Accept goes on.
type Listener struct {
	net.Listener
	Counter *Counter
	// Deny, if set, refuses every connection of a client it names (one
	// that is being refused anyway), before the connection costs more
	// than its accept.
	Deny func(k netip.Prefix) bool
	// Refuse, if set, answers a refused connection before it is closed;
	// denied says Deny refused it rather than the cap. It runs off the
	// accepting goroutine, at most maxRefusing at once (past that a refused
	// connection is closed unanswered), with a 100 ms write deadline.
	Refuse func(c net.Conn, k netip.Prefix, denied bool)
	// Answers, if set, is how often one client's refused connections are
	// answered: past it they are closed at once, unanswered. A client
	// that keeps coming back after its answer (a token spray) then costs
	// an accept and a close, not a reply, a goroutine and a linger each.
	Answers *Rate

	refusing atomic.Int32
}

// maxRefusing bounds the refused connections being answered at once.
const maxRefusing = 64

// Accept returns the next connection from a client under the cap.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, k, v, err := acceptFiltered(l.Listener, l.decide)
		if err != nil {
			switch v {
			case keep:
				l.Counter.Release(k)
			case refuseCap, refuseDenied:
				l.refusing.Add(-1)
			}
			return nil, err
		}
		if v == keep {
			return &conn{Conn: c, release: func() { l.Counter.Release(k) }}, nil
		}
		go func() {
			defer l.refusing.Add(-1)
			l.refuse(c, k, v == refuseDenied)
		}()
	}
}

// decide takes k's connection slot (keep), or one of the answers to
// refused connections, or drops the connection.
func (l *Listener) decide(k netip.Prefix) verdict {
	denied := l.Deny != nil && l.Deny(k)
	if !denied && l.Counter.Acquire(k) {
		return keep
	}
	if l.Refuse == nil || (l.Answers != nil && !l.Answers.Allow(k)) {
		return drop
	}
	if l.refusing.Add(1) > maxRefusing {
		l.refusing.Add(-1)
		return drop
	}
	if denied {
		return refuseDenied
	}
	return refuseCap
}

// refuse answers c and closes it (see AnswerAndClose).
func (l *Listener) refuse(c net.Conn, k netip.Prefix, denied bool) {
	AnswerAndClose(c, func(c net.Conn) { l.Refuse(c, k, denied) })
}

// AnswerAndClose runs answer on c (if answer is set), half-closes c, then
// reads what the client sent for a moment (100 ms, 64 KiB at most) before
// closing: closing with its request unread would reset the connection
// (Windows always does, Linux when unread input remains) and the client
// would read the reset instead of the answer or the end.
func AnswerAndClose(c net.Conn, answer func(net.Conn)) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(100 * time.Millisecond))
	if answer != nil {
		answer(c)
	}
	if tc, ok := c.(interface{ CloseWrite() error }); ok {
		tc.CloseWrite()
	}
	io.CopyN(io.Discard, c, 64<<10)
}

// Refuser closes refused connections with AnswerAndClose off the
// accepting goroutine, at most maxRefusing at once: past that a refused
// connection is closed at once, so a flood cannot pile up goroutines.
// The zero Refuser is ready to use.
type Refuser struct {
	n  atomic.Int32
	wg sync.WaitGroup
}

// Refuse answers and closes c in the background, or closes it at once
// when maxRefusing connections are being refused already.
func (r *Refuser) Refuse(c net.Conn, answer func(net.Conn)) {
	if r.n.Add(1) > maxRefusing {
		r.n.Add(-1)
		c.Close()
		return
	}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		defer r.n.Add(-1)
		AnswerAndClose(c, answer)
	}()
}

// Wait waits for the connections being refused to be closed.
func (r *Refuser) Wait() { r.wg.Wait() }

// conn gives its slot back on the first Close.
type conn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
