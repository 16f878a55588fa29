package doctor_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/storebox/storebox/daemon/doctor"
)

// TestWindowsAdviceNamesWindowsTools: on Windows, no check tells the
// technician to run systemctl, journalctl, ss, chown or to look in /dev or
// /etc (before, every fix was Linux's), and a taken port is pointed at
// netstat.
func TestWindowsAdviceNamesWindowsTools(t *testing.T) {
	file := filepath.Join(t.TempDir(), "not-a-dir")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := setup(t, filepath.Join(file, "data"), "[[scales]]\nid = \"S9\"\nport = \"COM97\"\n")
	squatter, err := net.Listen("tcp", cfg.Devices.Listen)
	if err != nil {
		t.Fatal(err)
	}
	defer squatter.Close()
	rs := doctor.Run(context.Background(), cfg)
	t.Logf("\n%s", dump(rs))
	linux := regexp.MustCompile("systemctl|journalctl|`ss |chown|usermod|/dev/|/etc/|/var/lib|timedatectl|\\.deb")
	for _, r := range rs {
		if m := linux.FindString(r.String()); m != "" {
			t.Errorf("%s: Linux advice %q on Windows", r.Check, m)
		}
	}
	if r := find(t, rs, "devices.listen"); !strings.Contains(r.Fix, "netstat") {
		t.Errorf("taken port: %s", r)
	}
	if r := find(t, rs, "daemon"); !strings.Contains(r.Fix, "storebox service start") {
		t.Errorf("daemon not running: %s", r)
	}
}
