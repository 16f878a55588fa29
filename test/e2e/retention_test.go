package e2e

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/storebox/storebox/daemon/orders"
	"github.com/storebox/storebox/daemon/payments"
	"github.com/storebox/storebox/daemon/store"
	"github.com/storebox/storebox/daemon/store/storetest"
	"github.com/storebox/storebox/protocol/ordermsg"
	"github.com/storebox/storebox/test/harness"
	"github.com/storebox/storebox/test/testenv"
)

// sellInThePast writes orders into a stopped daemon's data directory with
// the orders' own code at chosen times (the daemon's clock cannot be set),
// acknowledging the ledger as a cloud would up to the point named. It
// returns the oids by name.
func sellInThePast(t *testing.T, dataDir string, now time.Time) map[string]string {
	t.Helper()
	st, err := store.Open(dataDir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var clock time.Time
	svc, err := orders.New(orders.Config{Now: func() time.Time { return clock }}, st, payments.Providers{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	oids := map[string]string{}
	sell := func(name string, age time.Duration, then string) {
		t.Helper()
		clock = now.Add(-age)
		req := ordermsg.PayRequest{OrderID: name, PayMethod: ordermsg.MethodCash, Lines: []ordermsg.LineRequest{{GID: "10001", Qty: ptr(1.0)}}}
		info, err := svc.GetPayInfo(context.Background(), "T-01", req)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		oids[name] = info.OID
		switch then {
		case "pay":
			err = svc.MakePayment("T-01", info.OID, ordermsg.MethodCash, info.AmountTotal)
		case "cancel":
			err = svc.CancelOrder("T-01", info.OID)
		}
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	const day = 24 * time.Hour
	sell("old-paid", 200*day, "pay")
	sell("old-cancelled", 120*day, "cancel")
	sell("old-pending", 200*day, "") // expires when the daemon starts, now
	sell("recent-paid", 10*day, "pay")
	q, err := st.Outbox().QueueStats()
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Outbox().Ack(q.LastSeq); err != nil { // the cloud has all of these
		t.Fatal(err)
	}
	sell("old-unsent", 150*day, "pay")
	return oids
}

func ptr[T any](v T) *T { return &v }

// storedOrders reads which of oids the stopped daemon's file still holds.
func storedOrders(t *testing.T, dataDir string, oids map[string]string) map[string]bool {
	t.Helper()
	db, err := bbolt.Open(filepath.Join(dataDir, store.FileName), 0o600, &bbolt.Options{ReadOnly: true, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	out := map[string]bool{}
	_ = db.View(func(tx *bbolt.Tx) error {
		for name, oid := range oids {
			out[name] = tx.Bucket([]byte("ord_orders")).Get([]byte(oid)) != nil
		}
		return nil
	})
	return out
}

// The daemon removes at start exactly the finished orders past retention
// whose events the cloud acknowledged; `data stats` and `data compact`
// work on the stopped daemon's file and refuse a running one.
func TestRetentionAndDataCommands(t *testing.T) {
	// The cloud is unreachable: nothing more gets acknowledged.
	d := harness.New(t, "[upstream]\nurl = \"http://127.0.0.1:1\"\nsecret = \"k\"\n[orders]\nretention = \"90d\"\n")
	if out, err := d.Run("catalog", "import", sample()); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	oids := sellInThePast(t, d.DataDir, time.Now())
	d.Start()
	testenv.Eventually(t, "the start's pruning", func() bool {
		for _, l := range strings.Split(d.Log(), "\n") {
			if strings.Contains(l, `msg="pruned orders past retention"`) && strings.Contains(l, " removed=2 kept_unacknowledged=1 ") {
				return true
			}
		}
		return false
	})

	out, err := d.Run("data", "compact")
	if err == nil || !strings.Contains(out, "storebox is running on") {
		t.Fatalf("compact with the daemon running: %v\n%s", err, out)
	}
	if out, err := d.Run("data", "stats"); err == nil || !strings.Contains(out, "stop it first") {
		t.Fatalf("stats with the daemon running: %v\n%s", err, out)
	}
	if err := d.Stop(); err != nil {
		t.Fatal(err)
	}
	got := storedOrders(t, d.DataDir, oids)
	want := map[string]bool{"old-paid": false, "old-cancelled": false, "old-pending": true, "recent-paid": true, "old-unsent": true}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("%s (%s) stored %v, want %v", name, oids[name], got[name], w)
		}
	}

	out, err = d.Run("data", "stats")
	if err != nil {
		t.Fatalf("%v %s", err, out)
	}
	for _, want := range []string{"size ", "free ", "orders       cancelled 0, expired 1, needs_review 0, paid 2, pending 0",
		"orders, age  <1d 0, <7d 0, <30d 1, <90d 0, <1y 2, older 0", "ord_orders       3", "goods "} {
		if !strings.Contains(out, want) {
			t.Errorf("data stats lacks %q:\n%s", want, out)
		}
	}
	out, err = d.Run("data", "stats", "--json")
	var js struct {
		File struct {
			Size int64 `json:"size_bytes"`
		} `json:"file"`
		OrdersByState map[string]int `json:"orders_by_state"`
	}
	if err != nil || json.Unmarshal([]byte(out), &js) != nil || js.File.Size == 0 || js.OrdersByState["paid"] != 2 {
		t.Fatalf("data stats --json: %v\n%s", err, out)
	}

	out, err = d.Run("data", "compact")
	if err != nil || !strings.Contains(out, "compacted ") || !strings.Contains(out, " MB → ") {
		t.Fatalf("compact: %v\n%s", err, out)
	}
	storetest.CheckFile(t, filepath.Join(d.DataDir, store.FileName))
	if got := storedOrders(t, d.DataDir, oids); !got["old-unsent"] || !got["recent-paid"] {
		t.Fatalf("after compaction: %v", got)
	}
	d.Start() // the compacted file runs
}
