// Package crash kills the real storebox binary with SIGKILL while 50
// terminals create, pay and cancel orders over TCP, restarts it, and checks
// that nothing acknowledged was lost and no stock was sold twice.
package crash

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/storebox/storebox/daemon/orders"
	"github.com/storebox/storebox/daemon/payments"
	"github.com/storebox/storebox/daemon/store"
	"github.com/storebox/storebox/daemon/store/storetest"
	"github.com/storebox/storebox/protocol/ledger"
	"github.com/storebox/storebox/protocol/ordermsg"
	"github.com/storebox/storebox/test/harness"
)

const (
	terminals = 50
	cycles    = 5
)

type goodsSpec struct {
	gid   string
	unit  string
	price int64
	stock int64
}

var catalog = []goodsSpec{
	{"P1", "pcs", 250, 400}, {"P2", "pcs", 990, 300}, {"P3", "pcs", 1200, 200},
	{"P4", "pcs", 80, 500}, {"P5", "pcs", 4500, 60}, {"K1", "kg", 1290, 60000},
}

// what the terminals were told, by oid
type acked struct {
	orderID  string
	equip    string
	lines    []map[string]any
	amount   int64
	paid     bool // makePayment acknowledged
	payTried bool // makePayment sent (maybe lost)
	canceled bool // cancelOrder acknowledged
}

type book struct {
	mu     sync.Mutex
	orders map[string]*acked
	errs   []string
}

func (b *book) fail(format string, args ...any) {
	b.mu.Lock()
	b.errs = append(b.errs, fmt.Sprintf(format, args...))
	b.mu.Unlock()
}

func TestKill9WhileSelling(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test is not short")
	}
	d := harness.New(t, "[orders]\npayment_ttl = \"3s\"\n")
	var cat strings.Builder
	for _, g := range catalog {
		fmt.Fprintf(&cat, `{"gid":%q,"barcode":"","gname":"crash %s","price":%d,"unit":%q,"stock":{"main":%d}}`+"\n", g.gid, g.gid, g.price, g.unit, g.stock)
	}
	catPath := filepath.Join(t.TempDir(), "catalog.jsonl")
	os.WriteFile(catPath, []byte(cat.String()), 0o644)
	if out, err := d.Run("catalog", "import", catPath); err != nil {
		t.Fatalf("catalog import: %v\n%s", err, out)
	}
	bk := &book{orders: map[string]*acked{}}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	for cycle := range cycles {
		d.Start()
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for i := range terminals {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sellUntilDead(ctx, d, fmt.Sprintf("T-%02d", i), cycle, bk, uint64(cycle*1000+i))
			}()
		}
		time.Sleep(time.Duration(600+rng.IntN(1400)) * time.Millisecond)
		d.Kill()
		cancel()
		wg.Wait()
	}
	d.Start()
	verifyLive(t, d, bk)
	if err := d.Stop(); err != nil {
		t.Fatalf("stop: %v\n%s", err, d.Log())
	}
	verifyDisk(t, d.DataDir, bk)
	bk.mu.Lock()
	defer bk.mu.Unlock()
	for _, e := range bk.errs {
		t.Error(e)
	}
	paid := 0
	for _, o := range bk.orders {
		if o.paid {
			paid++
		}
	}
	t.Logf("%d orders acknowledged, %d payments acknowledged, over %d kill -9 restarts", len(bk.orders), paid, cycles)
	if len(bk.orders) < 100 || paid < 20 {
		t.Errorf("too little traffic to prove anything: %d orders, %d paid", len(bk.orders), paid)
	}
}

// dial logs a terminal in with the shared harness client.
func dial(d *harness.Daemon, equipID string) (*harness.Device, error) {
	dv, err := d.Dial(equipID)
	if err != nil {
		return nil, err
	}
	r, err := dv.Call("login", map[string]any{"kind": "terminal"})
	if err == nil && r.Exception() != "" {
		err = fmt.Errorf("login: %s", r.Exception())
	}
	if err != nil {
		dv.Close()
		return nil, err
	}
	return dv, nil
}

func randomLines(rng *rand.Rand) []map[string]any {
	n := 1 + rng.IntN(3)
	var lines []map[string]any
	for range n {
		g := catalog[rng.IntN(len(catalog))]
		if g.unit == "kg" {
			lines = append(lines, map[string]any{"gid": g.gid, "weight_g": 100 + rng.IntN(900)})
		} else {
			lines = append(lines, map[string]any{"gid": g.gid, "qty": 1 + rng.IntN(3)})
		}
	}
	return lines
}

func sellUntilDead(ctx context.Context, d *harness.Daemon, equip string, cycle int, bk *book, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, uint64(time.Now().UnixNano())))
	cn, err := dial(d, equip)
	if err != nil {
		return // the daemon died already
	}
	defer cn.Close()
	go func() { <-ctx.Done(); cn.Close() }()
	var mine []string
	for n := 0; ctx.Err() == nil; n++ {
		// Now and then repeat an acknowledged getPayInfo: same oid, always,
		// across restarts too.
		if len(mine) > 0 && rng.IntN(10) == 0 {
			oid := mine[rng.IntN(len(mine))]
			bk.mu.Lock()
			o := bk.orders[oid]
			bk.mu.Unlock()
			r, err := cn.Call("getPayInfo", map[string]any{"order_id": o.orderID, "pay_method": "cash", "lines": o.lines})
			if err != nil {
				return
			}
			if got, _ := r.Body["oid"].(string); r.Exception() != "" || got != oid {
				bk.fail("%s: repeated getPayInfo %s gave oid %q (%s), want %s", equip, o.orderID, got, r.Exception(), oid)
			}
			continue
		}
		orderID := fmt.Sprintf("c%d-%s-%d", cycle, equip, n)
		lines := randomLines(rng)
		r, err := cn.Call("getPayInfo", map[string]any{"order_id": orderID, "pay_method": "cash", "lines": lines})
		if err != nil {
			return
		}
		if r.Code() == "out_of_stock" {
			continue
		}
		oid, _ := r.Body["oid"].(string)
		amount, _ := r.Body["amount_total"].(float64)
		if r.Exception() != "" || oid == "" {
			bk.fail("%s: getPayInfo: %v", equip, r.Body)
			continue
		}
		o := &acked{orderID: orderID, equip: equip, lines: lines, amount: int64(amount)}
		bk.mu.Lock()
		if bk.orders[oid] != nil {
			bk.errs = append(bk.errs, fmt.Sprintf("oid %s given to two orders", oid))
		}
		bk.orders[oid] = o
		bk.mu.Unlock()
		mine = append(mine, oid)
		switch k := rng.IntN(10); {
		case k < 6:
			bk.mu.Lock()
			o.payTried = true
			bk.mu.Unlock()
			r, err := cn.Call("makePayment", map[string]any{"oid": oid, "method": "cash", "amount": o.amount})
			if err != nil {
				return
			}
			if r.Exception() == "" {
				bk.mu.Lock()
				o.paid = true
				bk.mu.Unlock()
			} else if r.Code() != "conflict" { // conflict: expired meanwhile and its stock is gone
				bk.fail("%s: makePayment %s: %v", equip, oid, r.Body)
			}
		case k < 8:
			r, err := cn.Call("cancelOrder", map[string]any{"oid": oid})
			if err != nil {
				return
			}
			if r.Exception() == "" {
				bk.mu.Lock()
				o.canceled = true
				bk.mu.Unlock()
			} else {
				bk.fail("%s: cancelOrder %s: %v", equip, oid, r.Body)
			}
		}
	}
}

// verifyLive asks the restarted daemon about every acknowledged order.
func verifyLive(t *testing.T, d *harness.Daemon, bk *book) {
	cn, err := dial(d, "T-CHECK")
	if err != nil {
		t.Fatal(err)
	}
	defer cn.Close()
	bk.mu.Lock()
	defer bk.mu.Unlock()
	for oid, o := range bk.orders {
		r, err := cn.Call("getOrder", map[string]any{"oid": oid})
		if err != nil {
			t.Fatal(err)
		}
		if r.Exception() != "" {
			t.Errorf("acknowledged order %s (%s) lost: %s", oid, o.orderID, r.Exception())
			continue
		}
		ord, _ := r.Body["order"].(map[string]any)
		status, _ := ord["status"].(string)
		total, _ := ord["amount_total"].(float64)
		if int64(total) != o.amount {
			t.Errorf("order %s: amount %v, acknowledged %d", oid, total, o.amount)
		}
		switch {
		case o.paid && status != "paid":
			t.Errorf("order %s: payment acknowledged, status %s", oid, status)
		case o.canceled && status != "cancelled" && status != "expired":
			t.Errorf("order %s: cancel acknowledged, status %s", oid, status)
		case !o.payTried && status == "paid":
			t.Errorf("order %s: paid without a payment", oid)
		}
	}
}

// verifyDisk opens the stopped daemon's store: stock never negative,
// reservations equal the pending orders, and every paid order took its
// stock exactly once.
func verifyDisk(t *testing.T, data string, bk *book) {
	storetest.CheckFile(t, filepath.Join(data, store.FileName)) // as kill -9 and the restarts left it
	st := storetest.Open(t, data, store.Options{})
	svc, err := orders.New(orders.Config{}, st, payments.Providers{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	reserved, sold := map[string]int64{}, map[string]int64{}
	seen := map[string]bool{}
	for _, status := range []string{ordermsg.StatusPending, ordermsg.StatusPaid, ordermsg.StatusCancelled, ordermsg.StatusExpired, ordermsg.StatusNeedsReview} {
		for _, o := range svc.List(status, 1<<30) {
			seen[o.OID] = true
			for _, l := range o.Lines {
				q := l.Qty
				if l.Unit == "kg" {
					q = l.WeightG
				}
				switch o.Status {
				case ordermsg.StatusPending:
					reserved[l.GID] += q
				case ordermsg.StatusPaid:
					sold[l.GID] += q
				}
			}
		}
	}
	bk.mu.Lock()
	for oid := range bk.orders {
		if !seen[oid] {
			t.Errorf("acknowledged order %s is not on disk", oid)
		}
	}
	bk.mu.Unlock()
	for _, g := range catalog {
		l := storetest.StockOf(t, st, "main", g.gid)
		if l.OnHand < 0 || l.Reserved < 0 || l.Reserved > l.OnHand {
			t.Errorf("%s: stock %+v", g.gid, l)
		}
		if l.Reserved != reserved[g.gid] {
			t.Errorf("%s: reserved %d, pending orders hold %d", g.gid, l.Reserved, reserved[g.gid])
		}
		if g.stock-l.OnHand != sold[g.gid] {
			t.Errorf("%s: on hand fell by %d, paid orders hold %d (an order paid twice or lost)", g.gid, g.stock-l.OnHand, sold[g.gid])
		}
	}
	evs, err := st.Outbox().Pending(0, 1<<30, 1<<40)
	if err != nil {
		t.Fatal(err)
	}
	paidEvents := map[string]int{}
	for _, ev := range evs {
		if ev.Type != ledger.OrderPaid {
			continue
		}
		var d struct {
			OID string `json:"oid"`
		}
		if err := json.Unmarshal(ev.Data, &d); err != nil {
			t.Fatal(err)
		}
		paidEvents[d.OID]++
	}
	for oid, n := range paidEvents {
		if n > 1 {
			t.Errorf("order %s paid %d times", oid, n)
		}
	}
	for _, o := range svc.List(ordermsg.StatusPaid, 1<<30) {
		if paidEvents[o.OID] != 1 {
			t.Errorf("paid order %s has %d order.paid events", o.OID, paidEvents[o.OID])
		}
	}
	t.Logf("on disk: %d orders, %d order.paid events", len(seen), len(paidEvents))
}
