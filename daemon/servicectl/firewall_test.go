package servicectl

import (
	"strings"
	"testing"

	"github.com/storebox/storebox/daemon/config"
)

// TestFirewallRulesFollowTheConfig: the defaults open devices, discovery,
// mDNS, MQTT and HTTP; a listener that is off or on port 0 opens nothing.
func TestFirewallRulesFollowTheConfig(t *testing.T) {
	var names []string
	for _, r := range FirewallRules(config.Default()) {
		names = append(names, r.Name)
	}
	want := "storebox devices (TCP 8686)|storebox discovery (UDP 8686)|storebox mDNS (UDP 5353)|storebox MQTT (TCP 1883)|storebox HTTP (TCP 8680)"
	if got := strings.Join(names, "|"); got != want {
		t.Fatalf("default rules\n%s\nwant\n%s", got, want)
	}
	c := config.Default()
	c.Discovery.Listen, c.MQTT.Listen, c.MQTT.TLSListen, c.HTTP.Listen = "", "127.0.0.1:0", ":8883", "127.0.0.1:9000"
	names = nil
	for _, r := range FirewallRules(c) {
		names = append(names, r.Name)
	}
	if got := strings.Join(names, "|"); got != "storebox devices (TCP 8686)|storebox MQTT TLS (TCP 8883)|storebox HTTP (TCP 9000)" {
		t.Fatalf("rules %s", got)
	}
	args := strings.Join(FirewallRules(config.Default())[2].NetshAdd(`C:\Program Files\storebox\storebox.exe`), " ")
	if want := `advfirewall firewall add rule name=storebox mDNS (UDP 5353) dir=in action=allow protocol=UDP localport=5353 program=C:\Program Files\storebox\storebox.exe profile=any`; args != want {
		t.Fatalf("netsh %s", args)
	}
}
