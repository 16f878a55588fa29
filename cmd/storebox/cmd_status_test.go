package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/storebox/storebox/daemon/config"
	"github.com/storebox/storebox/daemon/daemontest"
	"github.com/storebox/storebox/daemon/httpapi"
	"github.com/storebox/storebox/daemon/readyfile"
	"github.com/storebox/storebox/protocol/frame"
	"github.com/storebox/storebox/test/testenv"
)

// startStatusDaemon runs a real daemon in-process on loopback port 0 and
// returns its config file, and its config with the bound addresses.
func startStatusDaemon(t *testing.T, extra string) (cfgFile string, cfg *config.Config) {
	t.Helper()
	dir := t.TempDir()
	cfgFile = filepath.Join(dir, "storebox.toml")
	text := fmt.Sprintf(`store_id = "s-status"
store_name = "Status Store"
data_dir = %q
[devices]
listen = %q
admission = "pairing"
[discovery]
listen = ""
[mqtt]
listen = ""
[http]
listen = %q
`, filepath.Join(dir, "data"), "127.0.0.1:0", "127.0.0.1:0") + extra
	if err := os.WriteFile(cfgFile, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	daemontest.Start(t, cfg, "9.9.9-test")
	var ready readyfile.File
	testenv.Eventually(t, "the daemon's ready file", func() bool {
		f, err := readyfile.Read(cfg.DataDir)
		ready = f
		return err == nil && f.HTTP != ""
	})
	bound := *cfg // the daemon keeps cfg itself
	bound.HTTP.Listen, bound.Devices.Listen = ready.HTTP, ready.Devices
	return cfgFile, &bound
}

// loginOnce logs a device in over TCP (line mode) and returns the reply's
// error code ("" when admitted).
func statusLoginOnce(t *testing.T, addr, equipID string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	msg := fmt.Sprintf(`{"head":{"action":"login","equipId":%q,"seq":1},"body":{"kind":"terminal","name":"till <1>"}}`, equipID)
	if _, err := c.Write(frame.Append(nil, frame.ModeLine, []byte(msg))); err != nil {
		t.Fatal(err)
	}
	p, err := frame.NewReader(c, 0).Next()
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		Body struct {
			Exception string `json:"exception"`
			Code      string `json:"code"`
		} `json:"body"`
	}
	if err := json.Unmarshal(p, &r); err != nil {
		t.Fatalf("login reply %q: %v", p, err)
	}
	return r.Body.Code
}

func runStatus(t *testing.T, cfgFile string, args ...string) (string, error) {
	c := statusCommand(&globals{configPath: cfgFile})
	var out bytes.Buffer
	c.SetOut(&out)
	c.SetErr(&out)
	c.SetArgs(args)
	err := c.Execute()
	return out.String(), err
}

func TestStatusCommand(t *testing.T) {
	cfgFile, cfg := startStatusDaemon(t, "")
	if code := statusLoginOnce(t, cfg.Devices.Listen, "T-NEW"); code != "pending_approval" {
		t.Fatalf("login code %q, want pending_approval", code)
	}
	out, err := runStatus(t, cfgFile)
	if err != nil {
		t.Fatalf("status: %v\n%s", err, out)
	}
	for _, want := range []string{"Status Store (s-status)", "9.9.9-test", "terminals 0", "not configured", "Pending approval (1)", "T-NEW", "till <1>"} {
		if !strings.Contains(out, want) {
			t.Errorf("status output lacks %q:\n%s", want, out)
		}
	}
	out, err = runStatus(t, cfgFile, "--json")
	if err != nil {
		t.Fatalf("status --json: %v", err)
	}
	var snap httpapi.StatusSnapshot
	if err := json.Unmarshal([]byte(out), &snap); err != nil {
		t.Fatalf("--json is not the snapshot: %v\n%s", err, out)
	}
	if snap.StoreID != "s-status" || len(snap.Pending) != 1 || snap.Pending[0].EquipID != "T-NEW" {
		t.Fatalf("snapshot %+v", snap)
	}
}

func TestStatusCommandNoDaemon(t *testing.T) {
	dir := t.TempDir()
	addr := "127.0.0.1:0" // no ready file: nothing to reach
	cfgFile := filepath.Join(dir, "storebox.toml")
	os.WriteFile(cfgFile, []byte(fmt.Sprintf("data_dir = %q\n[http]\nlisten = %q\n", dir, addr)), 0o600)
	out, err := runStatus(t, cfgFile)
	if err == nil || !strings.Contains(err.Error(), "is it running") || !strings.Contains(err.Error(), "storebox doctor") {
		t.Fatalf("want a 'not running' error naming the next step, got %v\n%s", err, out)
	}
}
