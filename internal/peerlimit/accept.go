package peerlimit

import (
	"net"
	"net/netip"
	"time"
)

// verdict is what becomes of an accepted connection.
type verdict int

const (
	none         verdict = iota // not decided (an accept error)
	keep                        // hand it out
	refuseCap                   // hand it out to be answered: over the cap
	refuseDenied                // hand it out to be answered: denied
	drop                        // close it at once
)

// acceptFiltered returns the next connection of ln that decide does not
// drop, with its client and verdict (also with an error, when the
// connection was decided on but could not be had); a dropped one is closed
// as soon as it is accepted. Where the platform allows (acceptRaw), a
// dropped connection of a queue being drained never becomes a net.Conn: it
// costs the accept and the close system calls and little else, so a
// client that is being refused anyway cannot make the daemon spend much
// more on it than the kernel does.
func acceptFiltered(ln net.Listener, decide func(netip.Prefix) verdict) (net.Conn, netip.Prefix, verdict, error) {
	tl, raw := ln.(*net.TCPListener)
	raw = raw && drainsRaw
	for {
		if raw {
			c, k, v, ok, drops, err := acceptRaw(tl, decide)
			if ok {
				return c, k, v, err
			}
			if drops > 0 {
				time.Sleep(dropPause)
				continue
			}
		}
		// Nothing queued: wait as ln.Accept does.
		c, err := ln.Accept()
		if err != nil {
			return nil, netip.Prefix{}, none, err
		}
		k := KeyOf(c.RemoteAddr())
		if v := decide(k); v != drop {
			return c, k, v, nil
		}
		c.Close()
		if raw {
			time.Sleep(dropPause)
		}
	}
}

// dropPause is how long Accept lets connections queue after it dropped one,
// so that a flood is drained in batches, a wake-up a batch rather than one
// a connection; a connection it keeps waits at most that long more.
const dropPause = time.Millisecond

// AcceptFunc is a net.Listener whose Accept closes, as soon as they are
// accepted, the connections of clients Drop names (see acceptFiltered).
type AcceptFunc struct {
	net.Listener
	Drop func(k netip.Prefix) bool
}

// Accept returns the next connection of a client Drop does not name.
func (l *AcceptFunc) Accept() (net.Conn, error) {
	c, _, _, err := acceptFiltered(l.Listener, func(k netip.Prefix) verdict {
		if l.Drop != nil && l.Drop(k) {
			return drop
		}
		return keep
	})
	return c, err
}
