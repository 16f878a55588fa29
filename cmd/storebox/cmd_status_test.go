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

func TestPrintStatusSections(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	var s httpapi.StatusSnapshot
	raw := `{"store_id":"s1","store_name":"One","version":"1.0","uptime_s":3725,"ready":true,"test_mode":true,
	"sessions":{"terminal":2,"label":1},"connections":3,"goods":10,
	"queue":{"depth":4,"oldest_age_s":90,"dead_letters":1,"last_seq":42,"upstream_configured":true,"online":false,"last_success":"2026-11-27T11:59:00Z","last_error":"HTTP 503"},
	"scales":[{"id":"S1","state":"ok","weight_g":1250,"stable":true,"at":"2026-11-27T11:59:59Z"}],
	"doors":[{"id":"D1","policy":"entry","state":"closed","online":true,"lastSeen":"2026-11-27T11:58:00Z","stateAt":"0001-01-01T00:00:00Z","lastOpen":{"outcome":"denied","reason":"unpaid order","at":"2026-11-27T11:57:00Z"}}],
	"orders":{"counts":{"paid":3,"pending":1},"recent":[{"oid":"O-1","status":"paid","amount_total":123456,"method":"cash","created_at":"2026-11-27T11:00:00Z"}],
	"needs_review":[{"oid":"O-9","status":"pending","amount_total":-5,"method":"qr","reason":"amount mismatch"}]},
	"online":[{"equipId":"T-1","kind":"terminal","addr":"10.0.0.2:5000","framing":"line","charset":"utf-8","since":"2026-11-27T10:00:00Z"}],
	"config":{"source":"remote","version":7,"applied_at":"2026-11-26T09:00:00Z","remote_enabled":true,
	  "refused":{"version":"8","reason":"devices.listen: cannot be set remotely","at":"2026-11-27T11:30:00Z"}}}`
	if err := json.Unmarshal([]byte(raw), &s); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := printStatus(&b, &s, 20, now); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"TEST MODE", "up 1h2m", "terminals 2", "labels 1", "OFFLINE", "4 events unsent, oldest 1m30s, 1 dead letters", "HTTP 503",
		"1250 g", "entry", "closed", "denied (unpaid order)", "NEEDS REVIEW (1)", "-0.05", "amount mismatch", "1234.56", "paid 3, pending 1", "Online sessions (3)", "T-1",
		"remote version 7, applied 2026-11-26", "remote version 8 at ", "devices.listen: cannot be set remotely"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
