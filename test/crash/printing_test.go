package crash

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/storebox/storebox/drivers/printer/printersim"
	"github.com/storebox/storebox/test/harness"
)

// TestKill9WhilePrinting pays orders at a terminal while a slow printer
// (about 4 KB/s, a quarter second a receipt) works through the queue, and
// kills the daemon with SIGKILL three times mid-queue. Every acknowledged
// payment's receipt must come out, and at most one receipt per kill may
// come out twice: the one the printer had taken but not yet acknowledged
// when the daemon died (PROTOCOL.md §7.2).
func TestKill9WhilePrinting(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test is not short")
	}
	sim := printersim.New(simplifiedchinese.GB18030)
	sim.SetPace(4000)
	if err := sim.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { sim.Serve(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	d := harness.New(t, fmt.Sprintf("[[printers]]\nid = \"p\"\nconnect = \"tcp://%s\"\nterminals = [\"*\"]\n", sim.Addr()))
	cat := filepath.Join(t.TempDir(), "catalog.jsonl")
	os.WriteFile(cat, []byte(`{"gid":"G1","barcode":"","gname":"crash receipt goods","price":150,"unit":"pcs","stock":{"main":100000}}`+"\n"), 0o644)
	if out, err := d.Run("catalog", "import", cat); err != nil {
		t.Fatalf("catalog import: %v\n%s", err, out)
	}
	d.Start()

	const orders = 16
	killAfter := map[int]bool{4: true, 9: true, 13: true}
	acked := map[string]bool{}
	var tried []string
	kills := 0
	for i := range orders {
		oid := payRetrying(t, d, fmt.Sprintf("K-%d", i))
		tried = append(tried, oid)
		acked[oid] = true
		if killAfter[i] {
			time.Sleep(time.Duration(rand.IntN(300)) * time.Millisecond)
			d.Kill()
			kills++
			d.Start()
		}
	}
	// Everything acknowledged prints, then the queue is empty.
	deadline := time.Now().Add(90 * time.Second)
	for {
		counts := completeByOID(sim.Receipts())
		missing := 0
		for oid := range acked {
			if counts[oid] == 0 {
				missing++
			}
		}
		if missing == 0 && queued(t, d) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d acknowledged receipts never printed (queue %d)", missing, queued(t, d))
		}
		time.Sleep(100 * time.Millisecond)
	}
	rs := sim.Receipts()
	counts := completeByOID(rs)
	extra, partial := 0, 0
	for oid, n := range counts {
		if !acked[oid] {
			t.Errorf("receipt for %s, an order that was never paid", oid)
		}
		extra += n - 1
	}
	for _, r := range rs {
		if !r.Cut {
			partial++
		}
	}
	t.Logf("%d orders, %d kills: %d receipts, %d printed twice, %d cut off", len(tried), kills, len(rs), extra, partial)
	if extra > kills {
		t.Fatalf("%d receipts printed twice after %d kills: only the one in flight at each kill may be", extra, kills)
	}
}

// payRetrying pays one cash order, riding out a daemon that is restarting.
func payRetrying(t *testing.T, d *harness.Daemon, orderID string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		tm, err := d.Dial("T-01")
		if err != nil {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		r, err := tm.Call("login", map[string]any{"kind": "terminal"})
		if err == nil && r.Exception() == "" {
			r, err = tm.Call("getPayInfo", map[string]any{"order_id": orderID, "pay_method": "cash", "lines": []any{map[string]any{"gid": "G1", "qty": 1}}})
		}
		if err == nil && r.Exception() == "" {
			oid, _ := r.Body["oid"].(string)
			r, err = tm.Call("makePayment", map[string]any{"oid": oid, "method": "cash", "amount": 150})
			if err == nil && r.Exception() == "" {
				tm.Close()
				return oid
			}
		}
		tm.Close()
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("order %s: no acknowledged payment in 30 s", orderID)
	return ""
}

func completeByOID(rs []printersim.Receipt) map[string]int {
	out := map[string]int{}
	for _, r := range rs {
		if !r.Cut {
			continue
		}
		for _, l := range r.Lines {
			if f := strings.Fields(l); len(f) == 2 && f[0] == "Order" {
				out[f[1]]++
			}
		}
	}
	return out
}

func queued(t *testing.T, d *harness.Daemon) int {
	resp, err := d.Get("/api/v1/printers")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	var out struct {
		Printers []struct {
			Queued int `json:"queued"`
		} `json:"printers"`
	}
	if json.NewDecoder(resp.Body).Decode(&out) != nil || len(out.Printers) != 1 {
		return -1
	}
	return out.Printers[0].Queued
}
