package orders

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/storebox/storebox/daemon/payments"
	"github.com/storebox/storebox/daemon/store"
	"github.com/storebox/storebox/protocol/goods"
	"github.com/storebox/storebox/protocol/ordermsg"
)

// BenchmarkDurableOrders measures getPayInfo answered after the order is on
// disk, with 100 concurrent terminals: first with the service's batched
// commits (one fsync shared by the orders that arrive together), then with
// one transaction and fsync per order, in the same run. Run with
//
//	go test -run '^$' -bench DurableOrders -benchtime 1x ./daemon/orders/
func BenchmarkDurableOrders(b *testing.B) {
	const terminals = 100
	for range b.N {
		batched := durableRate(b, terminals, 20000, false)
		single := durableRate(b, terminals, 1000, true)
		b.ReportMetric(batched, "batched_orders/s")
		b.ReportMetric(single, "fsync_per_order_orders/s")
		b.ReportMetric(batched/single, "speedup")
		b.ReportMetric(tcpRate(b, terminals, 10000), "tcp_orders/s")
	}
}

// benchCatalog has stock enough for any run: a piece and a weighed goods.
var benchCatalog = []store.ImportRow{
	{Line: 1, Goods: goods.Goods{GID: "B1", Name: "Bench pcs", Price: 199, Unit: goods.UnitPieces}, Stock: map[string]int64{"main": 1 << 40}, HasStock: true},
	{Line: 2, Goods: goods.Goods{GID: "B2", Name: "Bench kg", Price: 1290, Unit: goods.UnitKg}, Stock: map[string]int64{"main": 1 << 40}, HasStock: true},
}

// tcpRate is the same load through the real device server: 100 terminals
// on TCP sockets, getPayInfo replies counted when they arrive.
func tcpRate(b *testing.B, terminals, orders int) float64 {
	e := newEnv(b, Config{}, payments.Providers{})
	importRows(b, e.st, benchCatalog)
	e.listen()
	terms := make([]*term, terminals)
	for i := range terms {
		terms[i] = dialTerm(b, e.addr, fmt.Sprintf("T-%03d", i))
	}
	per := orders / terminals
	var wg sync.WaitGroup
	errs := make(chan error, terminals)
	start := time.Now()
	for _, tm := range terms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range per {
				r, err := tm.try("getPayInfo", map[string]any{"order_id": fmt.Sprintf("o-%d", j), "pay_method": "cash",
					"lines": []any{map[string]any{"gid": "B1", "qty": 2}, map[string]any{"gid": "B2", "weight_g": 350}}})
				if err == nil && r.exc() != "" {
					err = fmt.Errorf("%s", r.Raw)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	b.Logf("tcp: %d orders in %d commits, %s", e.svc.group.Calls.Load(), e.svc.group.Batches.Load(), el)
	return float64(per*terminals) / el.Seconds()
}

func durableRate(b *testing.B, terminals, orders int, perOrderFsync bool) float64 {
	b.Helper()
	dir := b.TempDir()
	st, err := store.Open(dir, store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	importRows(b, st, benchCatalog)
	svc, err := New(Config{}, st, payments.Providers{}, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	if perOrderFsync {
		svc.commit = func(fn func(*store.Tx) error) error { return svc.keys.Update(st, st.Update, fn) }
	}
	per := orders / terminals
	var wg sync.WaitGroup
	errs := make(chan error, terminals)
	start := time.Now()
	for i := range terminals {
		wg.Add(1)
		go func() {
			defer wg.Done()
			equip := fmt.Sprintf("T-%03d", i)
			for j := range per {
				_, err := svc.GetPayInfo(context.Background(), equip, ordermsg.PayRequest{OrderID: fmt.Sprintf("o-%d", j), PayMethod: ordermsg.MethodCash,
					Lines: []ordermsg.LineRequest{pcs("B1", 2), grams("B2", 350)}})
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	if c := svc.Counts(); c[ordermsg.StatusPending] != per*terminals {
		b.Fatalf("%d orders on disk, want %d", c[ordermsg.StatusPending], per*terminals)
	}
	if !perOrderFsync {
		b.Logf("%d orders in %d commits", svc.group.Calls.Load(), svc.group.Batches.Load())
	}
	return float64(per*terminals) / el.Seconds()
}
