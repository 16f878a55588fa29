//go:build !linux

package peerlimit

import (
	"net"
	"net/netip"
)

// drainsRaw says acceptRaw drains a listener's queue here: not (each
// dropped connection is closed as ln.Accept returns it, without a pause).
const drainsRaw = false

// acceptRaw is Linux only; elsewhere acceptFiltered uses ln.Accept.
func acceptRaw(*net.TCPListener, func(netip.Prefix) verdict) (net.Conn, netip.Prefix, verdict, bool, int, error) {
	return nil, netip.Prefix{}, none, false, 0, nil
}
