package e2e

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/storebox/storebox/test/harness"
)

// makeRun starts `make run` with another config, data directory and binary
// path, in its own process group, and returns its merged output lines.
func makeRun(t *testing.T, config, data string, vars ...string) (*exec.Cmd, <-chan string) {
	t.Helper()
	if _, err := exec.LookPath("make"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("make is missing")
		}
		t.Skip("make is missing")
	}
	bin := filepath.Join(t.TempDir(), "storebox")
	cmd := exec.Command("make", append([]string{"--no-print-directory", "-C", harness.ModuleRoot(), "run", "CONFIG=" + config, "DATA=" + data, "BIN=" + bin}, vars...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	t.Cleanup(func() {
		// make and the daemon it started share the group; a daemon that
		// does not stop on SIGTERM is killed rather than left running.
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		stopped := make(chan struct{})
		go func() { cmd.Wait(); close(stopped) }()
		select {
		case <-stopped:
		case <-time.After(15 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-stopped
		}
		r.Close()
	})
	return cmd, linesOf(r)
}

// linesOf delivers r's lines as they come; the channel closes at EOF.
func linesOf(r io.Reader) <-chan string {
	lines := make(chan string, 1000)
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	return lines
}

// waitLine returns the output up to the first line containing want.
func waitLine(t *testing.T, lines <-chan string, want string) string {
	t.Helper()
	var seen []string
	timeout := time.After(5 * time.Minute) // a cold build on a busy 2-core box
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("make run ended before %q:\n%s", want, strings.Join(seen, "\n"))
			}
			seen = append(seen, l)
			if strings.Contains(l, want) {
				return strings.Join(seen, "\n")
			}
		case <-timeout:
			t.Fatalf("no %q from make run:\n%s", want, strings.Join(seen, "\n"))
		}
	}
}

// Issue 16 item 2: `make run CONFIG=… DATA=…` runs that config on that data,
// its import goes into that data directory and not into another daemon
// answering on the same API port, and it says when to start typing.
func TestMakeRunTakesConfigAndImportsIntoItsOwnStore(t *testing.T) {
	decoy := harness.New(t, "")
	decoy.Start()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "clash.toml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("store_id = \"mine\"\n[devices]\nlisten = %q\nadmission = \"open\"\n[discovery]\nlisten = \"127.0.0.1:0\"\nmdns = false\n[mqtt]\nlisten = %q\n[http]\nlisten = %q\n",
		"127.0.0.1:0", "127.0.0.1:0", decoy.HTTPAddr)), 0o644)
	cmd, lines := makeRun(t, cfg, filepath.Join(dir, "data-clash"))
	out := waitLine(t, lines, "imported 84 rows into ")
	if strings.Contains(out, "through the running daemon") {
		t.Fatalf("make run imported into the daemon answering on %s:\n%s", decoy.HTTPAddr, out)
	}
	cmd.Wait() // the daemon cannot bind the decoy's port and make run ends
	if n, _ := decoy.Run("catalog", "export"); strings.Count(n, "\n") > 1 {
		t.Fatalf("the other daemon got the catalog:\n%s", n)
	}

	// A config of its own: it starts, says when it is ready, and the CLI
	// pointed at its data directory alone finds the config.
	cfg = filepath.Join(dir, "mine.toml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("store_id = \"mine\"\n[devices]\nlisten = %q\nadmission = \"open\"\n[discovery]\nlisten = \"127.0.0.1:0\"\nmdns = false\n[mqtt]\nlisten = %q\n[http]\nlisten = %q\n",
		"127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0")), 0o644)
	data := filepath.Join(dir, "data")
	_, lines = makeRun(t, cfg, data)
	waitLine(t, lines, `once it logs "storebox ready"`)
	waitLine(t, lines, "storebox ready")
	st, err := exec.Command(harness.Binary(t), "status", "--data-dir", data).CombinedOutput()
	if err != nil || !strings.Contains(string(st), "(mine)") || !strings.Contains(string(st), "84 goods") {
		t.Fatalf("status: %v\n%s", err, st)
	}
}

// Issue 22 item 1: after `make run CONFIG=… DATA=dir`, the CLI run from the
// clone without flags finds the daemon make started, not the store an
// earlier run left in ./storebox-data (here on the same HTTP port, with its
// own admin token); pointed at that other data directory, it says the
// daemon runs from another one instead of blaming the token.
func TestMakeRunDataIsWhereTheCLIFindsTheDaemon(t *testing.T) {
	dir := t.TempDir()
	clone := filepath.Join(dir, "clone") // where the technician types
	earlier := filepath.Join(clone, "storebox-data")
	httpAddr := harness.FreeAddr(t)
	conf := func(name, store string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(fmt.Sprintf("store_id = %q\n[devices]\nlisten = \"127.0.0.1:0\"\nadmission = \"open\"\n[discovery]\nlisten = \"127.0.0.1:0\"\nmdns = false\n[mqtt]\nlisten = \"127.0.0.1:0\"\n[http]\nlisten = %q\n", store, httpAddr)), 0o644)
		return p
	}
	// An earlier run's store: its config on the same port, its own token.
	os.MkdirAll(earlier, 0o750)
	os.WriteFile(filepath.Join(earlier, "run.json"), []byte(fmt.Sprintf(`{"config": %q}`, conf("earlier.toml", "earlier"))), 0o644)
	os.WriteFile(filepath.Join(earlier, "admin.token"), []byte("an-earlier-token\n"), 0o600)

	data := filepath.Join(dir, "data")
	_, lines := makeRun(t, conf("mine.toml", "mine"), data, "CLI_DATA="+earlier)
	waitLine(t, lines, `once it logs "storebox ready"`) // make's banner, then the daemon's line
	waitLine(t, lines, "storebox ready")
	cli := func(args ...string) (string, error) {
		cmd := exec.Command(harness.Binary(t), args...)
		cmd.Dir = clone
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := cli("status"); err != nil || !strings.Contains(out, "(mine)") || !strings.Contains(out, "84 goods") {
		t.Fatalf("status from the clone does not reach the daemon make started: %v\n%s", err, out)
	}
	if out, _ := cli("doctor"); !strings.Contains(out, "store mine") || strings.Contains(out, "journalctl") {
		t.Fatalf("doctor from the clone:\n%s", out)
	}

	// Told to use the earlier data directory, the CLI holds its token: the
	// daemon refuses it, and the CLI says why.
	out, err := cli("status", "--data-dir", earlier)
	if err == nil || !strings.Contains(out, "runs with another data directory than "+earlier) || strings.Contains(out, "start it with") {
		t.Fatalf("status with another data directory's token: %v\n%s", err, out)
	}
	if out, _ := cli("doctor", "--data-dir", earlier); !strings.Contains(out, "runs with another data directory") || strings.Contains(out, "journalctl") {
		t.Fatalf("doctor with another data directory's token:\n%s", out)
	}
}
