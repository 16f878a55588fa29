package e2e

// What a technician meets in the first hour with the CLI (issue 16): each
// test runs the real binary the way the README tells a person to.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/storebox/storebox/test/harness"
	"github.com/storebox/storebox/test/testenv"
)

// Issue 16 item 4: an export format nobody knows is an error, from the CLI
// (daemon running or not) and from the API, never an empty success.
func TestCatalogExportUnknownFormatFails(t *testing.T) {
	d := harness.New(t, "")
	const want = `catalog format "xml": want csv or jsonl`
	out, err := d.Run("catalog", "export", "--format", "xml")
	if err == nil || !strings.Contains(out, want) {
		t.Fatalf("stopped daemon: %v %q", err, out)
	}
	d.Start()
	out, err = d.Run("catalog", "export", "--format", "xml")
	if err == nil || !strings.Contains(out, want) {
		t.Fatalf("running daemon: %v %q", err, out)
	}
	resp, err := d.Get("/api/v1/catalog?format=xml")
	if err != nil {
		t.Fatal(err)
	}
	var body struct {
		Error string `json:"error"`
	}
	json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || body.Error != want {
		t.Fatalf("GET ?format=xml: %s %q", resp.Status, body.Error)
	}
}

// Issue 16 item 7: approving an id that never connected works (pre-approval)
// but says so, and the list shows "unknown" and "never", not a zero time.
func TestApproveNeverSeenDeviceSaysSo(t *testing.T) {
	d := harness.New(t, "")
	d.Start()
	out, err := d.Run("devices", "approve", "NOPE-9")
	if err != nil || !strings.Contains(out, "NOPE-9: approved") || !strings.Contains(out, `no device "NOPE-9" has connected yet`) {
		t.Fatalf("approve: %v %s", err, out)
	}
	dev, _ := d.Dial("T-1")
	dev.Login(t, nil)
	if out, err := d.Run("devices", "approve", "T-1"); err != nil || strings.Contains(out, "connected yet") {
		t.Fatalf("approve a seen device: %v %s", err, out)
	}
	out, err = d.Run("devices")
	if err != nil {
		t.Fatalf("devices: %v %s", err, out)
	}
	var row string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "NOPE-9 ") {
			row = l
		}
	}
	f := strings.Fields(row)
	if len(f) != 6 || f[1] != "unknown" || f[5] != "never" || strings.Contains(out, "0001-01-01") {
		t.Fatalf("devices row %q in:\n%s", row, out)
	}
}

// Issue 16 item 12: a port that is not there fails at once, with what to
// check, instead of after the whole --timeout.
func TestScaleReadMissingPortFailsAtOnce(t *testing.T) {
	bin := harness.Binary(t)
	port := filepath.Join(t.TempDir(), "ttyUSB9")
	out, err := exec.Command(bin, "scale", "read", port, "--protocol", "cas", "--timeout", "20s").CombinedOutput()
	if err == nil || !strings.Contains(string(out), port+" does not exist") {
		t.Fatalf("%v %s", err, out)
	}
}

// Issue 16 item 12: --watch prints a line when the weight changes, not one
// per poll.
func TestScaleReadWatchPrintsChangesOnly(t *testing.T) {
	bin := harness.Binary(t)
	link := filepath.Join(t.TempDir(), "scale")
	sim := exec.Command(bin, "sim", "scale", "--protocol", "toledo", "--link", link, "--weight", "1234")
	stdin, _ := sim.StdinPipe()
	stdout, _ := sim.StdoutPipe()
	if err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { sim.Process.Kill(); sim.Wait() }()
	if _, err := bufio.NewReader(stdout).ReadString('\n'); err != nil {
		t.Fatalf("sim: %v", err)
	}
	go io.Copy(io.Discard, stdout)

	watch := exec.Command(bin, "scale", "read", link, "--protocol", "toledo", "--poll-ms", "200", "--watch")
	wout, _ := watch.StdoutPipe()
	if err := watch.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { watch.Process.Kill(); watch.Wait() }()
	lines := linesOf(wout)
	// withoutTime drops a reading's time, the last field of a weight line.
	withoutTime := func(l string) string {
		if i := strings.LastIndexByte(l, '\t'); i >= 0 {
			if _, err := time.Parse(time.RFC3339Nano, l[i+1:]); err == nil {
				return l[:i]
			}
		}
		return l
	}
	// Polls of the same weight (several per second) print nothing; the
	// change to 1500 g prints a line. A busy machine may show a state
	// change in between (a poll answered late), which is a change too.
	changed := time.After(time.Second)
	deadline := time.After(30 * time.Second)
	var prev string
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("scale read --watch ended")
			}
			if withoutTime(l) == prev {
				t.Fatalf("printed again without a change: %q", l)
			}
			prev = withoutTime(l)
			if strings.Contains(l, "1500 g stable") {
				return
			}
		case <-changed:
			fmt.Fprintln(stdin, "1500")
		case <-deadline:
			t.Fatalf("no 1500 g line; last %q", prev)
		}
	}
}

// Issue 16 item 12: `sync now` prints its summary once, in good English.
func TestSyncNowSummaryOnce(t *testing.T) {
	cloud := harness.StartCloud(t, "--secret", "s3")
	d := harness.New(t, fmt.Sprintf("[upstream]\nurl = %q\nsecret = \"s3\"\n", cloud.URL))
	// With the daemon stopped, the approval is queued in the data dir and
	// `sync now` sends exactly that one event.
	if out, err := d.Run("devices", "approve", "T-1"); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	out, err := d.Run("sync", "now")
	// A slow machine may print a progress line first; the summary comes
	// once, last, and nothing before it says "0 remaining".
	if err != nil || !strings.HasSuffix(out, "\nqueue empty: 1 event sent\n") && out != "queue empty: 1 event sent\n" ||
		strings.Count(out, "1 event") != 1 || strings.Contains(out, "0 remaining") {
		t.Fatalf("sync now: %v %q", err, out)
	}
	out, err = d.Run("sync", "status")
	if err != nil || !strings.Contains(out, "queue:         0 events") {
		t.Fatalf("sync status: %v %s", err, out)
	}
}

// Issue 16 item 12: table headers are words, the same way everywhere.
func TestStatusTableHeaders(t *testing.T) {
	d := harness.New(t, "[[doors]]\nid = \"front\"\nsecret = \"s\"\npolicy = \"entry\"\n")
	d.Start()
	out, err := d.Run("status")
	if err != nil || !strings.Contains(out, "LAST SEEN") || strings.Contains(out, "LASTSEEN") || strings.Contains(out, "STATEAT") {
		t.Fatalf("status: %v\n%s", err, out)
	}
}

// syncState reads GET /api/v1/sync.
func syncState(t *testing.T, d *harness.Daemon) map[string]any {
	t.Helper()
	resp, err := d.Get("/api/v1/sync")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

// Issue 16 item 6: a wrong secret is named as what it is, in `sync status`,
// `status` and the API the page reads, not as "offline"/"unreachable".
func TestWrongSecretNamedAsRejectedSignature(t *testing.T) {
	cloud := harness.StartCloud(t, "--secret", "right")
	d := harness.New(t, fmt.Sprintf("[upstream]\nurl = %q\nsecret = \"wrong\"\ntimeout = \"2s\"\n", cloud.URL))
	d.Start()
	if out, err := d.Run("devices", "approve", "T-1"); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	testenv.Eventually(t, "the upload to fail", func() bool { return syncState(t, d)["last_error"] != nil })
	out, _ := d.Run("sync", "status")
	if !strings.Contains(out, "rejected the signature; check upstream.secret and the clock") || strings.Contains(out, "OFFLINE") || strings.Contains(out, "unreachable") {
		t.Fatalf("sync status:\n%s", out)
	}
	out, _ = d.Run("status")
	if !strings.Contains(out, "rejected the signature") || strings.Contains(out, "unreachable") {
		t.Fatalf("status:\n%s", out)
	}
	out, err := d.Run("sync", "now")
	if err == nil || !strings.Contains(out, "rejected signature (HTTP 401") {
		t.Fatalf("sync now: %v %s", err, out)
	}
}

// Issue 16 item 6: once the cloud takes the events, the error from the
// outage is gone rather than shown in red beside "online".
func TestStaleSyncErrorClearedOnSuccess(t *testing.T) {
	// The cloud starts only once the error is there: no timing decides.
	cloudAddr := harness.FreeAddr(t)
	d := harness.New(t, fmt.Sprintf("[upstream]\nurl = \"http://%s\"\nsecret = \"s3\"\ntimeout = \"1s\"\n", cloudAddr))
	d.Start()
	if out, err := d.Run("devices", "approve", "T-1"); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	testenv.Eventually(t, "an error during the outage", func() bool { return syncState(t, d)["last_error"] != nil })
	harness.StartCloud(t, "--secret", "s3", "--listen", cloudAddr)
	testenv.Eventually(t, "the queue to drain", func() bool { s := syncState(t, d); return s["online"] == true && s["depth"] == 0.0 })
	if s := syncState(t, d); s["last_error"] != nil {
		t.Fatalf("stale error after success: %v", s)
	}
	if out, _ := d.Run("sync", "status"); strings.Contains(out, "last error") {
		t.Fatalf("sync status:\n%s", out)
	}
}

// Issue 16 item 12: the reference cloud's --help says how to point a daemon
// at it, not only its flags.
func TestCloudHelpSaysHowToPointADaemonAtIt(t *testing.T) {
	out, err := exec.Command(harness.CloudBinary(t), "--help").CombinedOutput()
	for _, want := range []string{"[upstream]", "url = \"http://", "secret = \"s3cret\"", "-fail-rate"} {
		if err != nil || !strings.Contains(string(out), want) {
			t.Fatalf("want %q: %v\n%s", want, err, out)
		}
	}
}

// cli runs the binary in dir with args and no --config, as a technician in
// the directory `make run` was started from.
func cli(t *testing.T, dir string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(harness.Binary(t), args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// Issue 16 items 3 and 11, issue 14 item 5: the CLI, run where the daemon
// was started by hand and without --config, finds the config the daemon
// runs with (its data directory records it), so doctor passes and client,
// discover, sim door and door open reach this store on its own ports.
func TestCLIFindsTheRunningDaemonsConfig(t *testing.T) {
	d := harness.New(t, "[[doors]]\nid = \"front\"\nsecret = \"door-secret\"\npolicy = \"staff\"\n")
	d.Start()
	// `make run` keeps its data in ./storebox-data, where the CLI looks.
	here := t.TempDir()
	if err := os.Symlink(d.DataDir, filepath.Join(here, "storebox-data")); err != nil {
		t.Fatal(err)
	}
	if out, err := cli(t, here, "doctor"); err != nil || !strings.Contains(out, "store test") {
		t.Fatalf("doctor: %v\n%s", err, out)
	}
	if out, err := cli(t, here, "client", "--equip", "T-9", "getAllGoods", "ost:=0", "lmt:=1"); err != nil || !strings.Contains(out, "getAllGoodsReturn") {
		t.Fatalf("client: %v\n%s", err, out)
	}
	if out, err := cli(t, here, "devices"); err != nil || !strings.Contains(out, "T-9") {
		t.Fatalf("devices: %v\n%s", err, out)
	}

	// sim door takes the broker, store id and secret from the config.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sim := exec.CommandContext(ctx, harness.Binary(t), "sim", "door", "--id", "front")
	sim.Dir = here
	stdout, _ := sim.StdoutPipe()
	sim.Stdin = strings.NewReader("") // the end of stdin does not stop it
	if err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	defer sim.Wait()
	lines := bufio.NewScanner(stdout)
	if !lines.Scan() || !strings.Contains(lines.Text(), "door front connected to "+d.MQTTAddr+" (store test)") {
		t.Fatalf("sim door: %q", lines.Text())
	}
	if out, err := cli(t, here, "door", "open", "front"); err != nil || !strings.Contains(out, "door front opened") {
		t.Fatalf("door open: %v\n%s", err, out)
	}
	if !lines.Scan() || !strings.Contains(lines.Text(), "cmd open") {
		t.Fatalf("sim door saw no open cmd: %q", lines.Text())
	}
	// Issue 16 item 8, the CLI's part: the door online is counted as one.
	if out, err := cli(t, here, "status"); err != nil || !strings.Contains(out, "doors 1;") {
		t.Fatalf("status with a door online: %v\n%s", err, out)
	}
	cancel()

	// A door of another store is refused, and told why.
	out, err := cli(t, here, "sim", "door", "--id", "front", "--store", "store-1")
	if err == nil || !strings.Contains(out, "refused the subscription to storebox/store-1/door/front/cmd (reason 0x87, not authorized)") ||
		!strings.Contains(out, "store_id") {
		t.Fatalf("sim door of another store: %v\n%s", err, out)
	}
}

// Issue 14 item 5: with --config, client and discover use that file's
// ports (here the ones its daemon bound for port 0), not the defaults.
func TestClientAndDiscoverFollowConfig(t *testing.T) {
	// Every listener is on port 0: the CLI finds the bound ports in the
	// ready file of the config's data directory.
	d := harness.New(t, "")
	d.Start()
	if out, err := d.Run("client", "--equip", "T-CFG", "getAllGoods", "ost:=0", "lmt:=1"); err != nil || !strings.Contains(out, "getAllGoodsReturn") {
		t.Fatalf("client --config: %v\n%s", err, out)
	}
	// It was this daemon that answered, not whatever listens on 8686.
	if out, err := d.Run("devices"); err != nil || !strings.Contains(out, "T-CFG") {
		t.Fatalf("devices: %v\n%s", err, out)
	}
	out, err := d.Run("discover", "--addr", "127.0.0.1", "--timeout", "2s")
	if err != nil || !strings.HasPrefix(out, "test ") {
		t.Fatalf("discover --config: %v\n%s", err, out)
	}
}

// exportRow returns the exported CSV line of one gid.
func exportRow(t *testing.T, d *harness.Daemon, gid string) string {
	t.Helper()
	out, err := d.Run("catalog", "export")
	if err != nil {
		t.Fatalf("export: %v %s", err, out)
	}
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, gid+",") {
			return l
		}
	}
	t.Fatalf("no %s in export", gid)
	return ""
}

// Issue 16 item 10: importing the catalog again (as every `make run` does)
// keeps the stock received and sold since; the summary says so; only
// --set-stock lets the file's count overwrite it.
func TestReimportKeepsStockUnlessAsked(t *testing.T) {
	d := harness.New(t, "")
	csv := filepath.Join(harness.ModuleRoot(), "packaging", "sample", "catalog.csv")
	out, err := d.Run("catalog", "import", "--direct", csv)
	if err != nil || !strings.Contains(out, "84 created") {
		t.Fatalf("first import: %v %s", err, out)
	}
	d.Start()
	dev, _ := d.Dial("T-1")
	dev.Login(t, nil)
	r, err := dev.Call("stockGoods", map[string]any{"whid": "main", "ref": "R-1", "lines": []any{map[string]any{"gid": "10001", "qty": 12}}})
	if err != nil || r.Exception() != "" {
		t.Fatalf("stockGoods: %s %v", r.Raw, err)
	}
	dev.Close()
	if err := d.Stop(); err != nil {
		t.Fatal(err)
	}
	out, err = d.Run("catalog", "import", "--direct", csv)
	if err != nil || !strings.Contains(out, "0 created, 0 updated, 84 unchanged, 0 deleted; stock set for 0, kept the store's own for 1 (--set-stock overwrites it)") {
		t.Fatalf("re-import: %v %s", err, out)
	}
	if row := exportRow(t, d, "10001"); !strings.Contains(row, "main:108") {
		t.Fatalf("stock after re-import: %s", row)
	}
	// Through the running daemon, with --set-stock: the file's count wins.
	d.Start()
	out, err = d.Run("catalog", "import", "--set-stock", csv)
	if err != nil || !strings.Contains(out, "through the running daemon") || !strings.Contains(out, "stock set for 1\n") {
		t.Fatalf("--set-stock: %v %s", err, out)
	}
	if row := exportRow(t, d, "10001"); !strings.Contains(row, "main:96") {
		t.Fatalf("stock after --set-stock: %s", row)
	}
	// --direct never goes through a daemon: the data directory is in use.
	out, err = d.Run("catalog", "import", "--direct", csv)
	if err == nil || !strings.Contains(out, "locked by another process") || !strings.Contains(out, "nothing was changed") {
		t.Fatalf("--direct while running: %v %s", err, out)
	}
}

// Issue 22 item 12: README's "Install day" is for the installed package;
// its clone steps run as written from the repository (bin/storebox, the
// sample catalog's path in the clone) against a running daemon.
func TestReadmeInstallDayFromAClone(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(harness.ModuleRoot(), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, _ := strings.Cut(string(readme), "\n## Install day\n")
	section, _, _ = strings.Cut(section, "\n## ")
	if !strings.Contains(section, "with the package") || !strings.Contains(section, "From a clone") {
		t.Fatalf("Install day does not say it is for the installed package and give the clone's steps:\n%s", section)
	}
	_, clone, _ := strings.Cut(section, "From a clone")
	d := harness.New(t, "")
	d.Start()
	ran := 0
	for _, line := range strings.Split(clone, "\n") {
		cmdline, _, _ := strings.Cut(strings.TrimSpace(line), "#")
		args := strings.Fields(cmdline)
		if len(args) == 0 || !strings.HasPrefix(line, "    ") {
			continue
		}
		if args[0] != "bin/storebox" {
			t.Fatalf("a clone step that is not bin/storebox: %q", line)
		}
		cmd := exec.Command(d.Bin, append(args[1:], "--config", d.Config)...)
		cmd.Dir = harness.ModuleRoot() // paths in the steps are the clone's
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", cmdline, err, out)
		}
		ran++
	}
	if ran < 4 {
		t.Fatalf("%d clone steps run; want doctor, catalog import, status, devices approve", ran)
	}
}
