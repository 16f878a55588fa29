package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/storebox/storebox/protocol/frame"
	"github.com/storebox/storebox/test/harness"
)

// Issue 19 item 1: a pending-device flood from a host without credentials
// — logins with huge fields, then more new equipIds than the store keeps —
// leaves the store file, /api/v1/status and `storebox status` small, and a
// device the store knows still logs in.
func TestPendingFloodStaysBounded(t *testing.T) {
	d := harness.New(t, "")
	// The flood comes from one address: the per-client rate of new devices
	// (TestNewDevicesRatePerClient in daemon/devices) is lifted so the
	// pending cap is what it meets.
	cfg, _ := os.ReadFile(d.Config)
	os.WriteFile(d.Config, bytes.Replace(cfg, []byte(`admission = "open"`), []byte(`admission = "pairing"
approve = ["T-KNOWN"]
new_devices_per_minute = 60000`), 1), 0o644)
	d.Start()
	dbPath := filepath.Join(d.DataDir, "storebox.db")
	before, err := os.Stat(dbPath)
	if err != nil {
		t.Fatal(err)
	}

	// Each connection sends its logins at once and reads the replies.
	flood := func(conns, each int, id func(c, i int) string, body map[string]any) map[string]int {
		var mu sync.Mutex
		codes := map[string]int{}
		var wg sync.WaitGroup
		for c := range conns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				nc, err := net.DialTimeout("tcp", d.DevAddr, 5*time.Second)
				if err != nil {
					t.Error(err)
					return
				}
				defer nc.Close()
				nc.SetDeadline(time.Now().Add(60 * time.Second))
				go func() {
					for i := range each {
						msg, _ := json.Marshal(map[string]any{"head": map[string]any{"action": "login", "equipId": id(c, i), "seq": i}, "body": body})
						if _, err := nc.Write(frame.Append(nil, frame.ModeLine, msg)); err != nil {
							return
						}
					}
				}()
				fr := frame.NewReader(nc, 0)
				for range each {
					p, err := fr.Next()
					if err != nil {
						t.Error(err)
						return
					}
					var r harness.Reply
					json.Unmarshal(p, &r)
					mu.Lock()
					codes[r.Code()]++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		return codes
	}
	huge := strings.Repeat("N", 1_000_000)
	codes := flood(4, 10, func(c, i int) string { return fmt.Sprintf("HUGE-%d-%d", c, i) }, map[string]any{"name": huge})
	if codes["bad_request"] != 40 {
		t.Fatalf("1 MB names: replies %v, want 40 bad_request", codes)
	}
	codes = flood(4, 10, func(c, i int) string { return strings.Repeat("I", 10_000) + fmt.Sprint(c, i) }, map[string]any{})
	if codes["bad_request"] != 40 {
		t.Fatalf("10 KB equipIds: replies %v, want 40 bad_request", codes)
	}
	name := "\x1b]0;pwned\x07\x1b[2J\u202e" + strings.Repeat("n", 100)
	codes = flood(20, 60, func(c, i int) string { return fmt.Sprintf("FLOOD-%02d-%03d-%s", c, i, strings.Repeat("x", 100)) }, map[string]any{"name": name})
	if codes["pending_approval"] != 1000 || codes["busy"] != 200 {
		t.Fatalf("1,200 new equipIds: replies %v, want 1000 pending_approval and 200 busy", codes)
	}

	dv, err := d.Dial("T-KNOWN")
	if err != nil {
		t.Fatal(err)
	}
	defer dv.Close()
	dv.Login(t, nil)

	after, _ := os.Stat(dbPath)
	if grown := after.Size() - before.Size(); grown > 4<<20 {
		t.Errorf("store file grew by %d bytes (%d → %d)", grown, before.Size(), after.Size())
	}
	resp, err := d.Get("/api/v1/status")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var st struct {
		Pending []json.RawMessage `json:"pending_devices"`
		Total   int               `json:"pending_total"`
	}
	if err := json.Unmarshal(body, &st); err != nil {
		t.Fatalf("status: %v: %.300s", err, body)
	}
	if len(body) > 64<<10 || len(st.Pending) != 50 || st.Total != 1000 {
		t.Errorf("status: %d bytes, %d pending listed of %d", len(body), len(st.Pending), st.Total)
	}
	out, err := d.Run("status")
	if err != nil {
		t.Fatalf("storebox status: %v\n%.2000s", err, out)
	}
	if len(out) > 32<<10 || !strings.Contains(out, "Pending approval (1000)") || !strings.Contains(out, "and 950 more") {
		t.Errorf("storebox status: %d bytes:\n%.3000s", len(out), out)
	}
	// Issue 19 item 7: the names reach the terminal escaped.
	devs, err := d.Run("devices")
	if err != nil {
		t.Fatalf("storebox devices: %v", err)
	}
	for what, s := range map[string]string{"storebox status": out, "storebox devices": devs} {
		if strings.ContainsAny(s, "\x1b\x07\u202e") {
			t.Errorf("%s prints control characters raw", what)
		}
	}
	if !strings.Contains(out, `\x1b]0;pwned\x07\x1b[2J\u202e`) {
		t.Errorf("storebox status does not show the name escaped:\n%.2000s", out)
	}
	if n := strings.Count(d.Log(), "new device refused"); n != 1 {
		t.Errorf("%d log lines for 200 refusals, want 1 (rate-limited)", n)
	}

	// The technician clears the flood at once; a new device is recorded again.
	if out, err := d.Run("devices", "forget-pending"); err != nil || !strings.Contains(out, "forgot 1000 devices waiting for approval") {
		t.Fatalf("forget-pending: %v %s", err, out)
	}
	if r := login(t, d, "T-LATE"); r.Code() != "pending_approval" {
		t.Fatalf("a new device after forget-pending: %s", r.Raw)
	}
}
