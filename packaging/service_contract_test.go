package packaging

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/storebox/storebox/test/harness"
)

// syncBuffer collects the daemon's output while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// buildStorebox compiles ./cmd/storebox once per test binary.
func buildStorebox(t *testing.T) string { return harness.Binary(t) }

func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	var ls []net.Listener
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}

// TestServiceContract runs the real daemon the way the unit does (Type=notify,
// WatchdogSec) with a real notify socket: READY=1 must come only once the
// device and HTTP listeners accept connections, WATCHDOG=1 pings must follow,
// and SIGTERM must give STOPPING=1 and a clean exit.
func TestServiceContract(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the daemon")
	}
	exe := buildStorebox(t)
	dir := t.TempDir()
	sock := filepath.Join(dir, "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	p := freePorts(t, 3)
	cfg := filepath.Join(dir, "storebox.toml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`data_dir = %q
[devices]
listen = "127.0.0.1:%d"
[discovery]
listen = ""
mdns = false
[mqtt]
listen = "127.0.0.1:%d"
[http]
listen = "127.0.0.1:%d"
`, filepath.Join(dir, "data"), p[0], p[1], p[2])), 0o644)

	var logs syncBuffer
	cmd := exec.Command(exe, "run", "--config", cfg)
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+sock, "WATCHDOG_USEC=2000000", "INVOCATION_ID=0123456789abcdef")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		cmd.Process.Kill()
		if t.Failed() {
			t.Logf("daemon output:\n%s", logs.String())
		}
	}()

	next := func(want string) {
		t.Helper()
		buf := make([]byte, 4096)
		for {
			conn.SetReadDeadline(time.Now().Add(30 * time.Second))
			k, err := conn.Read(buf)
			if err != nil {
				t.Fatalf("waiting for %s: %v", want, err)
			}
			for _, line := range strings.Split(string(buf[:k]), "\n") {
				if line == want {
					return
				}
			}
		}
	}

	next("READY=1")
	// Listeners are up when READY is sent.
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", p[0]), 5*time.Second)
	if err != nil {
		t.Fatalf("device port not accepting at READY: %v", err)
	}
	c.Close()
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/healthz", p[2]))
	if err != nil {
		t.Fatalf("healthz at READY: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("healthz at READY: %s", resp.Status)
	}

	next("WATCHDOG=1")
	next("WATCHDOG=1")

	// Under a service manager the logs are JSON lines.
	first, _, _ := strings.Cut(logs.String(), "\n")
	if !strings.HasPrefix(first, "{") {
		t.Errorf("log under INVOCATION_ID is not JSON: %q", first)
	}

	cmd.Process.Signal(syscall.SIGTERM)
	next("STOPPING=1")
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("daemon did not exit after SIGTERM")
	}
}
