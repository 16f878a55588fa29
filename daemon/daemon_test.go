package daemon

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/storebox/storebox/daemon/config"
	"github.com/storebox/storebox/daemon/discovery"
	"github.com/storebox/storebox/daemon/store"
	"github.com/storebox/storebox/sync/uploader"
	"github.com/storebox/storebox/test/testenv"
)

// syncBuffer is a log sink the test reads while the daemon writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func testConfig(t *testing.T, dataDir, extra string) *config.Config {
	t.Helper()
	text := fmt.Sprintf(`store_id = "s-reload"
store_name = "Reload Store"
data_dir = %q
[devices]
listen = "127.0.0.1:0"
[discovery]
listen = "127.0.0.1:0"
mdns = false
[mqtt]
listen = "127.0.0.1:0"
[http]
listen = "127.0.0.1:0"
`, dataDir) + extra
	cfg, err := config.Parse("test.toml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

const frontDoor = "\n[[doors]]\nid = \"front\"\nsecret = \"s-front\"\npolicy = \"entry\"\n"

// runDaemon builds and runs a daemon until the test ends.
func runDaemon(t *testing.T, cfg *config.Config, log *slog.Logger) *Daemon {
	t.Helper()
	d, err := New(cfg, "test", log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	for !d.Ready() {
		select {
		case err := <-done:
			t.Fatalf("Run: %v", err)
		case <-time.After(5 * time.Millisecond):
		}
	}
	return d
}

func doorIDs(d *Daemon) []string {
	var ids []string
	for _, s := range d.doors.Snapshot() {
		ids = append(ids, s.ID)
	}
	return ids
}

// The ready line names every bound address, so listeners on port 0 can
// be found.
func TestReadyLineNamesEveryBoundAddress(t *testing.T) {
	var logs syncBuffer
	d := runDaemon(t, testConfig(t, filepath.Join(t.TempDir(), "data"), frontDoor), slog.New(slog.NewTextHandler(&logs, nil)))
	line := ""
	testenv.Eventually(t, "the ready line", func() bool {
		for _, l := range strings.Split(logs.String(), "\n") {
			if strings.Contains(l, "storebox ready") {
				line = l
			}
		}
		return line != ""
	})
	for _, want := range []string{"devices=" + d.devices.Addr().String(), "http=" + d.http.Addr().String(), "mqtt=" + d.doors.Addr(), "mqtts=off", "discovery=" + d.disc.Addrs()[0].String()} {
		if !strings.Contains(line, want) {
			t.Errorf("ready line lacks %s: %s", want, line)
		}
	}
}

// Discovery answers with the ports the listeners got, not the configured
// port 0.
func TestDiscoveryAnnouncesBoundPorts(t *testing.T) {
	d := runDaemon(t, testConfig(t, filepath.Join(t.TempDir(), "data"), frontDoor), slog.New(slog.DiscardHandler))
	boxes, err := discovery.Find(context.Background(), discovery.FindOptions{Targets: []string{d.disc.Addrs()[0].String()}, Timeout: 2 * time.Second})
	if err != nil || len(boxes) != 1 {
		t.Fatalf("Find: %v %+v", err, boxes)
	}
	port := func(a string) int { _, p, _ := net.SplitHostPort(a); n, _ := strconv.Atoi(p); return n }
	b := boxes[0]
	if b.Port != port(d.devices.Addr().String()) || b.HTTPPort != port(d.http.Addr().String()) || b.MQTTPort != port(d.doors.Addr()) || b.Port == 0 || b.HTTPPort == 0 || b.MQTTPort == 0 {
		t.Fatalf("answer %+v; bound devices %s http %s mqtt %s", b.Answer, d.devices.Addr(), d.http.Addr(), d.doors.Addr())
	}
}

// A New that fails part-way closes what it opened: the store can be opened
// again at once (bbolt holds an exclusive file lock while open).
func TestFailedNewClosesTheStore(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	cfg := testConfig(t, dir, "")
	cfg.Scales = []config.Scale{{ID: "S1", Port: "/dev/null", Protocol: "no-such-protocol"}}
	if _, err := New(cfg, "test", slog.New(slog.DiscardHandler)); err == nil {
		t.Fatal("New took a scale with an unknown protocol")
	}
	st, err := store.Open(dir, store.Options{LockTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatalf("store still held after a failed New: %v", err)
	}
	st.Close()
}

// The uploader's part closes its sink (a NATS connection) when it stops.
type closingSink struct {
	uploader.Sink
	closed bool
}

func (s *closingSink) Close() error { s.closed = true; return nil }

func TestUploaderPartClosesItsSink(t *testing.T) {
	s := &closingSink{}
	if err := (&uploaderService{sink: s}).Close(); err != nil || !s.closed {
		t.Fatalf("sink closed %v, err %v", s.closed, err)
	}
}
