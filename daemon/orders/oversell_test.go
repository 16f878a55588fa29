package orders

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/storebox/storebox/daemon/payments"
	"github.com/storebox/storebox/daemon/store"
	"github.com/storebox/storebox/protocol/goods"
	"github.com/storebox/storebox/protocol/ordermsg"
)

// 200 terminals race over TCP for the last 10 units: exactly 10 are sold.
func TestOversell200TerminalsLast10(t *testing.T) {
	e := newEnv(t, Config{}, payments.Providers{})
	importRows(t, e.st, []store.ImportRow{{Line: 1, Goods: goods.Goods{GID: "LAST", Name: "Last ten", Price: 990, Unit: goods.UnitPieces}, Stock: map[string]int64{"main": 10}, HasStock: true}})
	e.listen()
	const n = 200
	terms := make([]*term, n)
	for i := range terms {
		terms[i] = dialTerm(t, e.addr, fmt.Sprintf("T-%03d", i))
	}
	var sold, refused atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan error, n)
	for i, tm := range terms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			r, err := tm.try("getPayInfo", map[string]any{"order_id": fmt.Sprintf("O-%d", i), "pay_method": "cash",
				"lines": []any{map[string]any{"gid": "LAST", "qty": 1}}})
			if err != nil {
				errs <- err
				return
			}
			switch r.code() {
			case "":
			case "out_of_stock":
				refused.Add(1)
				return
			default:
				errs <- fmt.Errorf("%s: %s", tm.id, r.Raw)
				return
			}
			p, err := tm.try("makePayment", map[string]any{"oid": r.str("oid"), "method": "cash", "amount": r.num("amount_total")})
			if err != nil || p.exc() != "" {
				errs <- fmt.Errorf("%s pay: %v %s", tm.id, err, p.Raw)
				return
			}
			sold.Add(1)
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if sold.Load() != 10 || refused.Load() != n-10 {
		t.Fatalf("sold %d, refused %d", sold.Load(), refused.Load())
	}
	if l := e.stock("LAST"); l.OnHand != 0 || l.Reserved != 0 {
		t.Fatalf("stock %+v", l)
	}
	if c := e.svc.Counts(); c[ordermsg.StatusPaid] != 10 || c[ordermsg.StatusPending] != 0 {
		t.Fatalf("counts %v", c)
	}
	e.checkInvariants()
}
