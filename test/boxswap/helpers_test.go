// Package boxswap runs the real binary through a store's long life: a box
// replaced by a reinstall or a restored backup, backups under load, and a
// cloud whose clock disagrees with the box's. The ledger must stay whole:
// the cloud holds every sale once, seq strictly increasing.
package boxswap

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/storebox/storebox/protocol/ledger"
	"github.com/storebox/storebox/test/harness"
)

func sample() string {
	return filepath.Join(harness.ModuleRoot(), "packaging", "sample", "catalog.csv")
}

func upstreamConfig(cloudURL string) string {
	return fmt.Sprintf("[upstream]\nurl = %q\nsecret = \"s3\"\ntimeout = \"2s\"\n[fleet]\nhealth_interval = \"1s\"\n", cloudURL)
}

// prepare imports the sample catalog into a stopped daemon's data directory.
func prepare(t *testing.T, d *harness.Daemon) {
	t.Helper()
	if out, err := d.Run("catalog", "import", sample()); err != nil {
		t.Fatalf("catalog import: %v\n%s", err, out)
	}
}

// sell makes n paid cash orders on a running daemon; it returns their oids.
func sell(t *testing.T, d *harness.Daemon, equip, prefix string, n int) []string {
	t.Helper()
	dev, err := d.Dial(equip)
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	dev.Login(t, nil)
	var oids []string
	for i := range n {
		oid, err := sellOne(dev, fmt.Sprintf("%s-%d", prefix, i), i)
		if err != nil {
			t.Fatal(err)
		}
		oids = append(oids, oid)
	}
	return oids
}

// sellOne makes order orderID of one of the sample's goods 10001 to 10003
// (by i) and pays it in cash; it returns the oid.
func sellOne(dev *harness.Device, orderID string, i int) (string, error) {
	r, err := dev.Call("getPayInfo", map[string]any{"order_id": orderID, "pay_method": "cash",
		"lines": []any{map[string]any{"gid": fmt.Sprintf("%d", 10001+i%3), "qty": 1}}})
	if err != nil || r.Exception() != "" {
		return "", fmt.Errorf("getPayInfo: %v %v", r.Body, err)
	}
	oid, _ := r.Body["oid"].(string)
	amount, _ := r.Body["amount_total"].(float64)
	r, err = dev.Call("makePayment", map[string]any{"oid": oid, "method": "cash", "amount": int64(amount)})
	if err != nil || r.Exception() != "" {
		return "", fmt.Errorf("makePayment %s: %v %v", oid, r.Body, err)
	}
	return oid, nil
}

// cloudLedger reads the reference cloud's event log (--data dir): the
// events it holds for store, in the order it stored them.
func cloudLedger(t *testing.T, dir, store string) []ledger.Event {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "events.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []ledger.Event
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		var l struct {
			Store string       `json:"store"`
			Event ledger.Event `json:"event"`
		}
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("cloud log line %q: %v", sc.Text(), err)
		}
		if l.Store == store && l.Event.ID != "" { // not a renumbered copy's taken seq
			out = append(out, l.Event)
		}
	}
	return out
}

// checkWhole checks the cloud's ledger: every id once, seq strictly
// increasing in the order stored (so no seq twice), and every oid in
// paid has exactly one order.paid event.
func checkWhole(t *testing.T, evs []ledger.Event, paid []string) {
	t.Helper()
	ids := map[string]bool{}
	var last uint64
	paidEvents := map[string]int{}
	for i, e := range evs {
		if ids[e.ID] {
			t.Errorf("event %s held twice", e.ID)
		}
		ids[e.ID] = true
		if e.Seq <= last {
			t.Errorf("event %d (%s %s) has seq %d after %d", i, e.ID, e.Type, e.Seq, last)
		}
		last = e.Seq
		if e.Type == ledger.OrderPaid {
			var d struct {
				OID string `json:"oid"`
			}
			json.Unmarshal(e.Data, &d)
			paidEvents[d.OID]++
		}
	}
	for _, oid := range paid {
		if paidEvents[oid] != 1 {
			t.Errorf("order %s: %d order.paid events at the cloud, want 1", oid, paidEvents[oid])
		}
	}
}

// cloudFaults returns the reference cloud's seq faults from /stats.
func cloudFaults(t *testing.T, c *harness.Cloud) float64 {
	t.Helper()
	st := c.Stats(t)
	n, _ := st["seq_faults"].(float64)
	return n
}

// queueDepth is the running daemon's unsent events (GET /api/v1/sync).
func queueDepth(t *testing.T, d *harness.Daemon) int {
	t.Helper()
	resp, err := d.Get("/api/v1/sync")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	var st struct {
		Depth int `json:"depth"`
	}
	if json.NewDecoder(resp.Body).Decode(&st) != nil {
		return -1
	}
	return st.Depth
}

// fleetJSON is the latest health the reference cloud holds for store
// "test", as JSON text ("" while it has none).
func fleetJSON(t *testing.T, c *harness.Cloud) string {
	t.Helper()
	resp, err := http.Get(c.URL + "/stores/test/health")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// stringsBuilder is a strings.Builder safe for a command's output.
type stringsBuilder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *stringsBuilder) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *stringsBuilder) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
