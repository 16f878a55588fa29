package systemd

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/storebox/storebox/test/testenv"
)

// directives returns section.key → values, in order.
func directives(t *testing.T, unit []byte) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	section := ""
	sc := bufio.NewScanner(bytes.NewReader(unit))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "["):
			section = strings.Trim(line, "[]")
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				t.Fatalf("line %d: not key=value: %q", n, line)
			}
			out[section+"."+k] = append(out[section+"."+k], v)
		}
	}
	return out
}

func TestUnitDirectives(t *testing.T) {
	d := directives(t, Unit)
	want := map[string]string{
		"Service.Type":                    "notify",
		"Service.ExecStart":               DefaultExecutable + " run --config " + DefaultConfig,
		"Service.Restart":                 "on-failure",
		"Service.RestartSec":              "2s",
		"Service.StateDirectory":          "storebox",
		"Service.ConfigurationDirectory":  "storebox",
		"Service.User":                    "storebox",
		"Service.Group":                   "storebox",
		"Service.SupplementaryGroups":     "dialout",
		"Service.ProtectSystem":           "strict",
		"Service.ProtectHome":             "yes",
		"Service.PrivateTmp":              "yes",
		"Service.NoNewPrivileges":         "yes",
		"Service.CapabilityBoundingSet":   "",
		"Service.AmbientCapabilities":     "",
		"Service.LimitNOFILE":             "65536",
		"Service.WatchdogSec":             "30s",
		"Service.RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX AF_NETLINK",
		"Install.WantedBy":                "multi-user.target",
	}
	for k, v := range want {
		got, ok := d[k]
		if !ok {
			t.Errorf("%s missing", k)
			continue
		}
		if len(got) != 1 || got[0] != v {
			t.Errorf("%s = %q, want [%q]", k, got, v)
		}
	}
	// A reload checks the file before it signals the daemon: a broken file
	// fails `systemctl reload` and never reaches the running daemon.
	reload := d["Service.ExecReload"]
	if len(reload) != 2 || reload[0] != DefaultExecutable+" config check "+DefaultConfig || reload[1] != "/bin/kill -HUP $MAINPID" {
		t.Errorf("ExecReload = %q, want the config check, then SIGHUP", reload)
	}
	for _, dev := range []string{"char-ttyS rw", "char-ttyUSB rw", "char-ttyACM rw"} {
		if !slices.Contains(d["Service.DeviceAllow"], dev) {
			t.Errorf("DeviceAllow lacks %q (serial scales)", dev)
		}
	}
	// Serial ports must stay reachable.
	if _, ok := d["Service.PrivateDevices"]; ok {
		t.Errorf("PrivateDevices would hide /dev/ttyUSB* from the scale drivers")
	}
	// kardianos/service treats custom units as templates; keep ours literal.
	if bytes.Contains(Unit, []byte("{{")) {
		t.Errorf("unit contains template braces")
	}
}

// TestUnitVerifies runs systemd-analyze verify on the unit with ExecStart
// and ExecReload pointed at an executable that exists here (verify checks it).
func TestUnitVerifies(t *testing.T) {
	analyze := testenv.RequireCommand(t, "systemd-analyze")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	unit := bytes.ReplaceAll(Unit, []byte("="+DefaultExecutable+" "), []byte("="+exe+" "))
	if bytes.Equal(unit, Unit) {
		t.Fatal("ExecStart line not found")
	}
	p := filepath.Join(t.TempDir(), "storebox.service")
	if err := os.WriteFile(p, unit, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", p).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}
