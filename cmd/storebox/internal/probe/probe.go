// Package probe picks where `storebox discover` sends its UDP probe: the
// discovery port of the config's daemon, on given or broadcast addresses.
package probe

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/storebox/storebox/cmd/storebox/internal/localapi"
	"github.com/storebox/storebox/daemon/config"
	"github.com/storebox/storebox/daemon/discovery"
	"github.com/storebox/storebox/daemon/readyfile"
	wire "github.com/storebox/storebox/protocol/discovery"
)

// Targets are the addresses to probe and the port they use: addrs (the
// port added where missing), else, for a port other than the protocol's
// default, the broadcast targets on that port. None means discovery's
// own defaults.
func Targets(cfg *config.Config, addrs []string) (targets []string, port int) {
	port = discoveryPort(cfg)
	for _, a := range addrs {
		if _, _, err := net.SplitHostPort(a); err != nil {
			a = net.JoinHostPort(strings.Trim(a, "[]"), fmt.Sprint(port))
		}
		targets = append(targets, a)
	}
	if len(targets) == 0 && port != wire.DefaultPort {
		for _, t := range discovery.BroadcastTargets() {
			host, _, _ := net.SplitHostPort(t)
			targets = append(targets, net.JoinHostPort(host, fmt.Sprint(port)))
		}
	}
	return targets, port
}

// discoveryPort is the UDP port the config's daemon answers probes on (for
// port 0, the one the running daemon recorded); the protocol's default
// when discovery is off or its port unknown.
func discoveryPort(c *config.Config) int {
	listen := localapi.BoundListen(c, c.Discovery.Listen, func(f readyfile.File) string {
		if len(f.Discovery) == 0 {
			return ""
		}
		return f.Discovery[0]
	})
	_, p, err := net.SplitHostPort(listen)
	if err != nil {
		return wire.DefaultPort
	}
	n, err := strconv.Atoi(p)
	if err != nil || n <= 0 {
		return wire.DefaultPort
	}
	return n
}
