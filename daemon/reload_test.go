package daemon

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/storebox/storebox/daemon/config"
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
listen = ""
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

func TestReloadIsAllOrNothing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	var logs syncBuffer
	d := runDaemon(t, testConfig(t, dir, frontDoor), slog.New(slog.NewTextHandler(&logs, nil)))

	// A door the configuration check lets through but the doors refuse
	// (a secret that looks like a bcrypt hash and is not one).
	bad := testConfig(t, dir, frontDoor)
	bad.Doors = append(bad.Doors, config.Door{ID: "back", Secret: "$2a$xx", Policy: "entry"})
	err := d.Reload(bad)
	if err == nil || !strings.Contains(err.Error(), "nothing applied") || !strings.Contains(err.Error(), "door back") {
		t.Fatalf("reload of a bad door: %v", err)
	}
	if got := doorIDs(d); !slices.Equal(got, []string{"front"}) {
		t.Fatalf("doors after a refused reload: %v", got)
	}

	good := testConfig(t, dir, "\n[[doors]]\nid = \"back\"\nsecret = \"s-back\"\npolicy = \"exit\"\n")
	good.StoreName = "Renamed"
	if err := d.Reload(good); err != nil {
		t.Fatal(err)
	}
	if got := doorIDs(d); !slices.Equal(got, []string{"back"}) {
		t.Fatalf("doors after a reload: %v", got)
	}
	if !strings.Contains(logs.String(), "restart to apply") || !strings.Contains(logs.String(), "store_name") {
		t.Fatalf("the log does not name store_name as needing a restart:\n%s", logs.String())
	}
}

func TestChangedKeysNamesSectionFieldsAndSkipsOwned(t *testing.T) {
	old := config.Default()
	now := config.Default()
	now.StoreName = "x"
	now.Devices.Admission = "open"
	now.Orders.PaymentTTL.Duration = time.Minute
	now.Doors = []config.Door{{ID: "d"}}
	got := changedKeys(old, now, []string{"doors", "orders.payment_ttl"})
	if want := []string{"store_name", "devices.admission"}; !slices.Equal(got, want) {
		t.Fatalf("changed %v, want %v", got, want)
	}
}

// The ready line names every bound address, so listeners on port 0 can
// be found.
func TestReadyLineNamesEveryBoundAddress(t *testing.T) {
	var logs syncBuffer
	d := runDaemon(t, testConfig(t, filepath.Join(t.TempDir(), "data"), frontDoor), slog.New(slog.NewTextHandler(&logs, nil)))
	line := ""
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, "storebox ready") {
			line = l
		}
	}
	for _, want := range []string{"devices=" + d.devices.Addr().String(), "http=" + d.http.Addr().String(), "mqtt=" + d.doors.Addr(), "mqtts=off", "discovery=off"} {
		if !strings.Contains(line, want) {
			t.Errorf("ready line lacks %s: %s", want, line)
		}
	}
}
