package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/storebox/storebox/daemon/mdns"
	"github.com/storebox/storebox/test/harness"
	"github.com/storebox/storebox/test/testenv"
)

// TestMDNSAcrossHosts advertises from a daemon in one network namespace and
// browses with Debian's avahi in another, the two joined by a veth pair: an
// independent mDNS implementation on another "host" must find the box at the
// one address its device listener is bound to — not the interface's second
// address, which would get "connection refused" — and connect there.
func TestMDNSAcrossHosts(t *testing.T) {
	needNetns(t)
	for _, c := range []string{"avahi-daemon", "avahi-browse", "dbus-daemon"} {
		testenv.RequireCommand(t, c)
	}
	bin := harness.Binary(t)
	id := fmt.Sprintf("%d", os.Getpid()%100000)
	nsA, nsB := "sbmdnsA"+id, "sbmdnsB"+id
	vA, vB := "sbva"+id, "sbvb"+id
	vethNamespaces(t, nsA, nsB, vA, vB, [][]string{
		{nsA, "ip", "addr", "add", "10.77.0.1/24", "dev", vA},
		{nsA, "ip", "addr", "add", "10.77.0.2/24", "dev", vA}, // a second address the listener does not accept on
		{nsA, "ip", "link", "set", vA, "up"},
		{nsA, "ip", "link", "set", "lo", "up"},
		{nsB, "ip", "addr", "add", "10.77.0.9/24", "dev", vB},
		{nsB, "ip", "link", "set", vB, "up"},
		{nsB, "ip", "link", "set", "lo", "up"},
	})

	dir := t.TempDir()
	cfg := filepath.Join(dir, "storebox.toml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`store_id = "S-MDNS"
store_name = "Corner Shop 超市"
data_dir = %q
[devices]
listen = "10.77.0.1:18686"
admission = "open"
[discovery]
listen = "10.77.0.1:18686"
mdns = true
[mqtt]
listen = ""
[http]
listen = "127.0.0.1:18680"
`, filepath.Join(dir, "data"))), 0o644)
	logPath := filepath.Join(dir, "storebox.log")
	runInNetns(t, nsA, logPath, bin, "run", "--config", cfg)
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, _ := os.ReadFile(logPath)
		if strings.Contains(string(b), "mDNS advertising") {
			if !strings.Contains(string(b), "10.77.0.1") || strings.Contains(string(b), "10.77.0.2") {
				t.Fatalf("advertised addresses wrong:\n%s", b)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("daemon did not advertise within 30 s:\n%s", b)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// avahi in namespace B, with its own D-Bus system bus: `ip netns exec`
	// gives the script a private mount namespace, so the tmpfs mounts hide
	// any avahi or D-Bus the host runs.
	script := `set -e
mount -t tmpfs tmpfs /run/dbus 2>/dev/null || { mkdir -p /run/dbus; mount -t tmpfs tmpfs /run/dbus; }
mkdir -p /run/avahi-daemon && mount -t tmpfs tmpfs /run/avahi-daemon
dbus-daemon --system --fork
avahi-daemon -D --no-chroot
trap 'avahi-daemon -k 2>/dev/null; kill $(cat /run/dbus/pid) 2>/dev/null' EXIT
for i in $(seq 1 40); do
  out=$(avahi-browse -rpt _storebox._tcp 2>/dev/null | grep '^=' || true)
  if [ -n "$out" ]; then printf '%s\n' "$out"; exit 0; fi
  sleep 0.5
done
echo "avahi-browse found nothing" >&2
exit 1`
	out, err := exec.Command("ip", "netns", "exec", nsB, "sh", "-c", script).CombinedOutput()
	if err != nil {
		b, _ := os.ReadFile(logPath)
		t.Fatalf("avahi-browse: %v\n%s\ndaemon log:\n%s", err, out, b)
	}
	t.Logf("avahi-browse -rpt:\n%q", out)
	// =;iface;proto;name;type;domain;host;address;port;txt — the name with
	// the same \DDD (decimal) and \X escapes as DNS presentation format.
	var addrs []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(line, ";")
		if len(f) < 10 {
			t.Fatalf("unparsable avahi line %q", line)
		}
		if f[4] != "_storebox._tcp" || f[8] != "18686" || !strings.Contains(f[9], "store=S-MDNS") {
			t.Errorf("record %q", line)
		}
		if got := mdns.Unescape(f[3]); got != "Corner Shop 超市" {
			t.Errorf("instance %q (%q)", got, f[3])
		}
		addrs = append(addrs, f[7])
	}
	for _, a := range addrs {
		if a != "10.77.0.1" {
			t.Errorf("avahi resolved %s; only 10.77.0.1 (devices.listen) is reachable", a)
		}
	}
	// What the record promises works: a device in B connects there.
	// (An empty catalog answers not_found, and the CLI exits 1 for that.)
	reply, err := exec.Command("ip", "netns", "exec", nsB, bin, "client", "--addr", addrs[0]+":18686", "--equip", "T-01", "getGoods", "code=6921168509256").CombinedOutput()
	if !strings.Contains(string(reply), `"action":"getGoodsReturn"`) {
		t.Fatalf("device in B could not use the advertised address: %v\n%s", err, reply)
	}
}
