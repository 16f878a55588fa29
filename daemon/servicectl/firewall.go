package servicectl

import (
	"fmt"
	"net"
	"strconv"

	"github.com/storebox/storebox/daemon/config"
)

// FirewallRule is one inbound Windows Firewall rule storebox needs: the
// LAN's devices, doors and browsers reach these ports.
type FirewallRule struct {
	Name     string // "storebox devices (TCP 8686)"
	Protocol string // "TCP" or "UDP"
	Port     int
}

// FirewallRules are the rules cfg's listeners need: devices, discovery,
// mDNS (UDP 5353 when discovery.mdns), MQTT (plain and TLS) and HTTP. A
// listener that is off or on port 0 needs none.
func FirewallRules(cfg *config.Config) []FirewallRule {
	var out []FirewallRule
	add := func(what, proto, listen string) {
		_, p, err := net.SplitHostPort(listen)
		port, _ := strconv.Atoi(p)
		if listen == "" || err != nil || port <= 0 {
			return
		}
		out = append(out, FirewallRule{Name: fmt.Sprintf("storebox %s (%s %d)", what, proto, port), Protocol: proto, Port: port})
	}
	add("devices", "TCP", cfg.Devices.Listen)
	add("discovery", "UDP", cfg.Discovery.Listen)
	if cfg.Discovery.MDNS && cfg.Discovery.Listen != "" {
		add("mDNS", "UDP", ":5353")
	}
	add("MQTT", "TCP", cfg.MQTT.Listen)
	add("MQTT TLS", "TCP", cfg.MQTT.TLSListen)
	add("HTTP", "TCP", cfg.HTTP.Listen)
	return out
}

// NetshAdd is the netsh command line that adds r for program.
func (r FirewallRule) NetshAdd(program string) []string {
	return []string{"advfirewall", "firewall", "add", "rule", "name=" + r.Name, "dir=in", "action=allow",
		"protocol=" + r.Protocol, "localport=" + strconv.Itoa(r.Port), "program=" + program, "profile=any"}
}

// NetshDeleteAll removes every rule for program (the rules of an older
// config included).
func NetshDeleteAll(program string) []string {
	return []string{"advfirewall", "firewall", "delete", "rule", "name=all", "program=" + program}
}
