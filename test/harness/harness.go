// Package harness runs the real storebox binary for black-box tests: build
// once per test binary, start with every listener on a loopback port 0,
// wait for the daemon's ready file (which names the bound ports), talk the
// device protocol, stop or kill -9.
package harness

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/storebox/storebox/daemon/readyfile"
	"github.com/storebox/storebox/protocol/frame"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// ModuleRoot is the repository root.
func ModuleRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(filepath.Dir(file)))
}

// Binary builds cmd/storebox once per test process and returns its path.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "storebox-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "storebox")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/storebox")
		cmd.Dir = ModuleRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// FreeAddr returns a 127.0.0.1 TCP address that was free a moment ago.
// Another process may take it before it is used: prefer port 0 and read the
// bound address back (as New does); this is for programs that cannot.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// Daemon is one storebox process under test.
type Daemon struct {
	t       testing.TB
	Bin     string
	DataDir string
	Config  string
	// DevAddr, HTTPAddr and MQTTAddr are the bound addresses, known once
	// Start (WaitReady) returns; each start binds new ports.
	DevAddr  string
	HTTPAddr string
	MQTTAddr string
	LogPath  string
	Cmd      *exec.Cmd
	exited   chan struct{}
	exitErr  error
}

// New prepares a daemon with its own data directory. Every listener is on
// 127.0.0.1:0: the daemon binds free ports itself and Start reads them
// back from its ready file into DevAddr, HTTPAddr and MQTTAddr. extra is
// TOML appended to the generated config (it may add tables).
func New(t testing.TB, extra string) *Daemon {
	t.Helper()
	return NewAt(t, "127.0.0.1:0", extra)
}

// NewAt is New with devices.listen at devicesListen (a test that holds
// the port itself).
func NewAt(t testing.TB, devicesListen, extra string) *Daemon {
	t.Helper()
	dir := t.TempDir()
	d := &Daemon{t: t, Bin: Binary(t), DataDir: filepath.Join(dir, "data"), Config: filepath.Join(dir, "storebox.toml"),
		LogPath: filepath.Join(dir, "storebox.log")}
	cfg := fmt.Sprintf(`store_id = "test"
store_name = "test store"
data_dir = %q
[log]
level = "debug"
format = "text"
[devices]
listen = %q
admission = "open"
[discovery]
listen = "127.0.0.1:0"
mdns = false
[mqtt]
listen = "127.0.0.1:0"
[http]
listen = "127.0.0.1:0"
`, d.DataDir, devicesListen)
	if err := os.WriteFile(d.Config, []byte(cfg+extra), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		d.Kill()
		if t.Failed() {
			t.Logf("storebox log (%s):\n%s", d.LogPath, d.Log())
		}
	})
	return d
}

// Run runs a CLI subcommand with this daemon's config and returns its
// combined output and exit error.
func (d *Daemon) Run(args ...string) (string, error) {
	cmd := exec.Command(d.Bin, append(args, "--config", d.Config)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// Start starts `storebox run` and waits until /readyz answers.
func (d *Daemon) Start() {
	d.t.Helper()
	if err := d.StartNoWait(); err != nil {
		d.t.Fatal(err)
	}
	if err := d.WaitReady(30 * time.Second); err != nil {
		d.t.Fatalf("%v\nlog:\n%s", err, d.Log())
	}
}

// StartNoWait starts the process without waiting for readiness.
func (d *Daemon) StartNoWait() error {
	logf, err := os.OpenFile(d.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	d.Cmd = exec.Command(d.Bin, "run", "--config", d.Config)
	d.Cmd.Stdout, d.Cmd.Stderr = logf, logf
	if err := d.Cmd.Start(); err != nil {
		logf.Close()
		return err
	}
	d.exited = make(chan struct{})
	go func() {
		d.exitErr = d.Cmd.Wait()
		logf.Close()
		close(d.exited)
	}()
	return nil
}

// WaitReady waits until this process has written its ready file (every
// listener is up), takes the bound addresses from it and checks /readyz
// when the HTTP listener is on.
func (d *Daemon) WaitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	pause := 5 * time.Millisecond
	for ; time.Now().Before(deadline); pause = min(2*pause, 50*time.Millisecond) {
		select {
		case <-d.exited:
			return fmt.Errorf("storebox exited before ready: %v", d.exitErr)
		case <-time.After(pause):
		}
		f, err := readyfile.Read(d.DataDir)
		if err != nil || f.PID != d.Cmd.Process.Pid {
			continue // not written yet, or left by a process killed before
		}
		d.DevAddr, d.HTTPAddr, d.MQTTAddr = f.Devices, f.HTTP, f.MQTT
		if d.HTTPAddr == "" {
			return nil
		}
		resp, err := http.Get("http://" + d.HTTPAddr + "/readyz")
		if err != nil {
			return fmt.Errorf("ready file written, but /readyz: %w", err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("ready file written, but /readyz answers %s", resp.Status)
		}
		return nil
	}
	return fmt.Errorf("storebox not ready after %s", timeout)
}

// Wait waits for the process to exit and returns its error.
func (d *Daemon) Wait(timeout time.Duration) (error, bool) {
	select {
	case <-d.exited:
		return d.exitErr, true
	case <-time.After(timeout):
		return nil, false
	}
}

// Stop sends SIGTERM and waits up to 10 s.
func (d *Daemon) Stop() error {
	if d.Cmd == nil || d.Cmd.Process == nil {
		return nil
	}
	d.Cmd.Process.Signal(syscall.SIGTERM)
	err, ok := d.Wait(10 * time.Second)
	if !ok {
		d.Cmd.Process.Kill()
		<-d.exited
		return fmt.Errorf("storebox did not stop within 10 s")
	}
	d.Cmd = nil
	return err
}

// Kill sends SIGKILL (kill -9) and waits.
func (d *Daemon) Kill() {
	if d.Cmd == nil || d.Cmd.Process == nil {
		return
	}
	d.Cmd.Process.Kill()
	<-d.exited
	d.Cmd = nil
}

// Log returns what the daemon wrote so far.
func (d *Daemon) Log() string {
	b, _ := os.ReadFile(d.LogPath)
	return string(b)
}

// AdminToken reads the token the daemon created.
func (d *Daemon) AdminToken() string {
	b, _ := os.ReadFile(filepath.Join(d.DataDir, "admin.token"))
	return strings.TrimSpace(string(b))
}

// Get makes a GET to the local API with the admin token, as every read
// endpoint needs it (PROTOCOL.md §5).
func (d *Daemon) Get(path string) (*http.Response, error) {
	req, err := http.NewRequest(http.MethodGet, "http://"+d.HTTPAddr+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+d.AdminToken())
	return http.DefaultClient.Do(req)
}

// Reply is a decoded device reply.
type Reply struct {
	Head struct {
		Action   string `json:"action"`
		Seq      int64  `json:"seq"`
		UniqueID string `json:"uniqueId"`
	} `json:"head"`
	Body map[string]any `json:"body"`
	Raw  []byte         `json:"-"`
}

// Exception is the reply's exception ("" on success).
func (r Reply) Exception() string { s, _ := r.Body["exception"].(string); return s }

// Code is the reply's error code.
func (r Reply) Code() string { s, _ := r.Body["code"].(string); return s }

// Device is a line-mode device connection.
type Device struct {
	EquipID string
	c       net.Conn
	br      *bufio.Writer
	fr      *frame.Reader
	seq     int64
	Pushes  []Reply
}

// Dial connects a device (not logged in).
func (d *Daemon) Dial(equipID string) (*Device, error) {
	c, err := net.DialTimeout("tcp", d.DevAddr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	return &Device{EquipID: equipID, c: c, br: bufio.NewWriter(c), fr: frame.NewReader(c, 0)}, nil
}

// Close closes the connection.
func (dv *Device) Close() error { return dv.c.Close() }

// Call sends one request and waits for its reply, keeping pushes aside.
func (dv *Device) Call(action string, body any) (Reply, error) {
	dv.seq++
	msg, err := json.Marshal(map[string]any{"head": map[string]any{"action": action, "equipId": dv.EquipID, "seq": dv.seq}, "body": body})
	if err != nil {
		return Reply{}, err
	}
	dv.c.SetDeadline(time.Now().Add(15 * time.Second))
	dv.br.Write(frame.Append(nil, frame.ModeLine, msg))
	if err := dv.br.Flush(); err != nil {
		return Reply{}, err
	}
	for {
		p, err := dv.fr.Next()
		if err != nil {
			return Reply{}, err
		}
		var r Reply
		if err := json.Unmarshal(p, &r); err != nil {
			return Reply{}, fmt.Errorf("reply not JSON: %q", p)
		}
		r.Raw = p
		if r.Head.Action == action+"Return" && r.Head.Seq == dv.seq {
			return r, nil
		}
		dv.Pushes = append(dv.Pushes, r)
	}
}

// Login logs in with body (kind etc.) and fails the test on refusal.
func (dv *Device) Login(t testing.TB, body map[string]any) {
	t.Helper()
	if body == nil {
		body = map[string]any{}
	}
	r, err := dv.Call("login", body)
	if err != nil {
		t.Fatalf("login %s: %v", dv.EquipID, err)
	}
	if r.Exception() != "" {
		t.Fatalf("login %s: %s", dv.EquipID, r.Raw)
	}
}
