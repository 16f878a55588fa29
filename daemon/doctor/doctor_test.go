package doctor_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/storebox/storebox/daemon"
	"github.com/storebox/storebox/daemon/config"
	"github.com/storebox/storebox/daemon/daemontest"
	"github.com/storebox/storebox/daemon/doctor"
	"github.com/storebox/storebox/daemon/fleet"
	"github.com/storebox/storebox/drivers/scale/scalesim"
	"github.com/storebox/storebox/protocol/scaleproto"
	"github.com/storebox/storebox/sync/cloudref"
	"github.com/storebox/storebox/test/harness"
)

func freeTCP(t *testing.T) string { return harness.FreeAddr(t) }

func freeUDP(t *testing.T) string {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().String()
}

// setup writes a config on free loopback ports; extra is appended TOML.
func setup(t *testing.T, dataDir, extra string) *config.Config {
	t.Helper()
	dir := t.TempDir()
	if dataDir == "" {
		dataDir = filepath.Join(dir, "data")
	}
	text := fmt.Sprintf(`store_id = "s-doc"
store_name = "Doctor Store"
data_dir = %q
[devices]
listen = %q
[discovery]
listen = %q
mdns = false
[mqtt]
listen = %q
[http]
listen = %q
`, dataDir, freeTCP(t), freeUDP(t), freeTCP(t), freeTCP(t)) + extra
	path := filepath.Join(dir, "storebox.toml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// startDaemon runs the real daemon in-process until the test ends.
func startDaemon(t *testing.T, cfg *config.Config) {
	t.Helper()
	daemontest.Start(t, cfg, "1.2.3-doc")
}

// startCloud runs the reference cloud and returns its URL.
func startCloud(t *testing.T, secret string) string {
	t.Helper()
	c, err := cloudref.New(cloudref.Options{Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Serve(ctx, ln); close(done) }()
	t.Cleanup(func() { cancel(); <-done; c.Close() })
	return "http://" + ln.Addr().String()
}

func startSim(t *testing.T, p scaleproto.Protocol) *scalesim.Sim {
	t.Helper()
	sim, err := scalesim.New(p, scalesim.Options{})
	if err != nil {
		if runtime.GOOS == "windows" {
			t.Skipf("%v (the scale checks are tested on Linux)", err)
		}
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { sim.Serve(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done; sim.Close() })
	return sim
}

func find(t *testing.T, rs []doctor.Result, prefix string) doctor.Result {
	t.Helper()
	for _, r := range rs {
		if r.Check == prefix || strings.HasPrefix(r.Check, prefix+" ") {
			return r
		}
	}
	t.Fatalf("no %q check in:\n%s", prefix, dump(rs))
	return doctor.Result{}
}

func dump(rs []doctor.Result) string {
	var b strings.Builder
	for _, r := range rs {
		b.WriteString(r.String())
		b.WriteByte('\n')
	}
	return b.String()
}

func want(t *testing.T, rs []doctor.Result, prefix string, level doctor.Level, detail string) {
	t.Helper()
	r := find(t, rs, prefix)
	if r.Level != level || !strings.Contains(r.Detail, detail) {
		t.Errorf("%s: got %q, want level %s with %q\n%s", prefix, r.String(), level, detail, dump(rs))
	}
	if r.Level != doctor.OK && r.Fix == "" {
		t.Errorf("%s: %s without a fix", prefix, r.Level)
	}
}

// A good setup, daemon stopped: the scale answers its probe, every port is
// free, the cloud accepts the signature; nothing fails.
func TestGoodSetupStopped(t *testing.T) {
	sim := startSim(t, scaleproto.Toledo8217)
	cloud := startCloud(t, "sek")
	cfg := setup(t, "", fmt.Sprintf(`[upstream]
url = %q
secret = "sek"
[[scales]]
id = "S1"
port = %q
protocol = "toledo8217"
`, cloud, sim.Path()))
	sim.SetWeight(1250)
	rs := doctor.Run(context.Background(), cfg)
	t.Logf("\n%s", dump(rs))
	if failed(rs) {
		t.Fatalf("failed on a good setup:\n%s", dump(rs))
	}
	want(t, rs, "config", doctor.OK, "is valid")
	want(t, rs, "daemon", doctor.Warn, "not running")
	want(t, rs, "data directory", doctor.OK, "will be created")
	want(t, rs, "devices.listen", doctor.OK, "free")
	want(t, rs, "discovery.listen", doctor.OK, "free")
	want(t, rs, "http.listen", doctor.OK, "free")
	want(t, rs, "scale S1 port", doctor.OK, "read/write")
	want(t, rs, "scale S1 probe", doctor.OK, "answers as")
	want(t, rs, "upstream", doctor.OK, "signature accepted")
	want(t, rs, "discovery", doctor.Warn, "not running")
	want(t, rs, "fleet", doctor.OK, "no remote configuration stored")

	// A document the daemon applied before it stopped is named.
	os.MkdirAll(cfg.DataDir, 0o750)
	doc := `{"applied_at": "2026-11-27T10:00:00Z", "document": {"version": 5, "config": {"devices": {"admission": "open"}}}}`
	if err := os.WriteFile(filepath.Join(cfg.DataDir, fleet.StateFile), []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	want(t, doctor.Run(context.Background(), cfg), "fleet", doctor.OK, "remote configuration version 5 stored")
}

// A good setup with the daemon running: its ports are held by storebox,
// discovery answers on loopback.
func TestGoodSetupRunning(t *testing.T) {
	cloud := startCloud(t, "sek")
	sim := startSim(t, scaleproto.Toledo8217)
	sim.SetWeight(750)
	cfg := setup(t, "", fmt.Sprintf("[upstream]\nurl = %q\nsecret = \"sek\"\n[[scales]]\nid = \"S1\"\nport = %q\nprotocol = \"toledo8217\"\n", cloud, sim.Path()))
	startDaemon(t, cfg)
	waitStatus(t, cfg, `"state": "connected"`)
	rs := doctor.Run(context.Background(), cfg)
	t.Logf("\n%s", dump(rs))
	for _, r := range rs {
		if r.Level != doctor.OK {
			t.Errorf("not ok on a good running setup: %s", r)
		}
	}
	want(t, rs, "daemon", doctor.OK, "version 1.2.3-doc")
	want(t, rs, "data directory", doctor.OK, "is writable")
	want(t, rs, "devices.listen", doctor.OK, "held by storebox")
	want(t, rs, "discovery.listen", doctor.OK, "held by storebox")
	want(t, rs, "mqtt.listen", doctor.OK, "held by storebox")
	want(t, rs, "http.listen", doctor.OK, "held by storebox")
	want(t, rs, "discovery udp", doctor.OK, "store s-doc")
	want(t, rs, "mdns", doctor.OK, "disabled")
	want(t, rs, "scale S1 probe", doctor.OK, "the running daemon holds the port")
	want(t, rs, "fleet", doctor.OK, "running the local file")
}

// waitStatus waits until the daemon's status JSON contains s.
func waitStatus(t *testing.T, cfg *config.Config, s string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		req, _ := http.NewRequest("GET", "http://"+cfg.HTTP.Listen+"/api/v1/status", nil)
		tok, _ := daemon.ReadAdminToken(cfg)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if strings.Contains(string(b), s) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("status never showed %s:\n%s", s, b)
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A broken setup: data_dir under a regular file, the device port taken by
// another program, the scale's serial port missing. Each is named.
func TestBrokenSetup(t *testing.T) {
	file := filepath.Join(t.TempDir(), "not-a-dir")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := setup(t, filepath.Join(file, "data"), `[[scales]]
id = "S9"
port = "/dev/does-not-exist-storebox"
`)
	squatter, err := net.Listen("tcp", cfg.Devices.Listen)
	if err != nil {
		t.Fatal(err)
	}
	defer squatter.Close()
	rs := doctor.Run(context.Background(), cfg)
	t.Logf("\n%s", dump(rs))
	if !failed(rs) {
		t.Fatal("a broken setup passed")
	}
	notDir, noFile := "not a directory", "no such file"
	if runtime.GOOS == "windows" {
		// Windows says a path under a file does not exist.
		notDir, noFile = "is a file", "not found"
	}
	want(t, rs, "data directory", doctor.Fail, notDir)
	want(t, rs, "devices.listen", doctor.Fail, "cannot bind")
	want(t, rs, "http.listen", doctor.OK, "free")
	want(t, rs, "scale S9 port", doctor.Fail, noFile)
	if r := find(t, rs, "scale S9 port"); !strings.Contains(r.Fix, "scales[0].port") {
		t.Errorf("scale fix does not name the key: %s", r)
	}
}

func TestDataDirIsFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "data")
	os.WriteFile(file, nil, 0o600)
	rs := doctor.Run(context.Background(), setup(t, file, ""))
	want(t, rs, "data directory", doctor.Fail, "is a file, not a directory")
}

func TestDiskThresholds(t *testing.T) {
	cfg := setup(t, t.TempDir(), "")
	rs := doctor.RunWith(context.Background(), cfg, doctor.Options{FailFree: 1 << 62, WarnFree: 1 << 62})
	want(t, rs, "disk space", doctor.Fail, "free on")
	rs = doctor.RunWith(context.Background(), cfg, doctor.Options{FailFree: 1, WarnFree: 1 << 62})
	want(t, rs, "disk space", doctor.Warn, "free on")
}

func TestUpstreamWrongSecretAndSkew(t *testing.T) {
	cloud := startCloud(t, "right")
	cfg := setup(t, "", fmt.Sprintf("[upstream]\nurl = %q\nsecret = \"wrong\"\n", cloud))
	rs := doctor.Run(context.Background(), cfg)
	want(t, rs, "upstream", doctor.Fail, "refused the signature")

	cfg = setup(t, "", fmt.Sprintf("[upstream]\nurl = %q\nsecret = \"right\"\n", cloud))
	// Our clock 2 minutes ahead: signatures still pass, the skew shows.
	ahead := func() time.Time { return time.Now().Add(2 * time.Minute) }
	rs = doctor.RunWith(context.Background(), cfg, doctor.Options{Now: ahead})
	want(t, rs, "upstream", doctor.Warn, "clock off by -2m")

	// An hour behind the cloud: the signature goes through with the
	// cloud's time, and doctor says to set the clock.
	behind := func() time.Time { return time.Now().Add(-time.Hour) }
	rs = doctor.RunWith(context.Background(), cfg, doctor.Options{Now: behind})
	want(t, rs, "upstream", doctor.Fail, "this box's clock is 1h0m0s behind the cloud's")
	for _, r := range rs {
		ntp := "timedatectl set-ntp true"
		if runtime.GOOS == "windows" {
			ntp = "w32tm /resync"
		}
		if r.Check == "upstream" && !strings.Contains(r.Fix, ntp) {
			t.Errorf("fix %q", r.Fix)
		}
	}

	unreachable := setup(t, "", fmt.Sprintf("[upstream]\nurl = \"http://%s\"\nsecret = \"x\"\ntimeout = \"1s\"\n", freeTCP(t)))
	rs = doctor.Run(context.Background(), unreachable)
	want(t, rs, "upstream", doctor.Fail, "unreachable")
}

func TestScaleSilent(t *testing.T) {
	sim := startSim(t, scaleproto.Toledo8217)
	sim.SetSilent(true)
	cfg := setup(t, "", fmt.Sprintf("[[scales]]\nid = \"S2\"\nport = %q\nprotocol = \"toledo8217\"\nbaud = 9600\n", sim.Path()))
	rs := doctor.Run(context.Background(), cfg)
	want(t, rs, "scale S2 port", doctor.OK, "present")
	want(t, rs, "scale S2 probe", doctor.Fail, "no answer")
}

func TestResultString(t *testing.T) {
	r := doctor.Result{Level: doctor.Warn, Check: "mdns", Detail: "not seen", Fix: "open udp 5353"}
	if got := r.String(); got != "warn  mdns: not seen — open udp 5353" {
		t.Fatalf("%q", got)
	}
	r = doctor.Result{Level: doctor.OK, Check: "config", Detail: "valid"}
	if got := r.String(); got != "ok    config: valid" {
		t.Fatalf("%q", got)
	}
}

// failed reports whether any result is a Fail.
func failed(rs []doctor.Result) bool {
	for _, r := range rs {
		if r.Level == doctor.Fail {
			return true
		}
	}
	return false
}

func TestClockBeforeTheBuild(t *testing.T) {
	cfg := setup(t, "", "")
	built := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	deadBattery := func() time.Time { return time.Date(2000, 1, 1, 0, 3, 0, 0, time.UTC) }
	rs := doctor.RunWith(context.Background(), cfg, doctor.Options{Now: deadBattery, Built: built})
	want(t, rs, "clock", doctor.Fail, "2000-01-01T00:03:00Z, before this storebox was made (2026-12-01)")
	rs = doctor.RunWith(context.Background(), cfg, doctor.Options{Built: built})
	want(t, rs, "clock", doctor.OK, "after this storebox was made")
}
