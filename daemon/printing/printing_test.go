package printing

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"go.etcd.io/bbolt"
	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/storebox/storebox/daemon/config"
	"github.com/storebox/storebox/daemon/orders"
	"github.com/storebox/storebox/daemon/payments"
	"github.com/storebox/storebox/daemon/store"
	"github.com/storebox/storebox/daemon/store/storetest"
	"github.com/storebox/storebox/drivers/printer"
	"github.com/storebox/storebox/drivers/printer/printersim"
	"github.com/storebox/storebox/protocol/goods"
	"github.com/storebox/storebox/protocol/ordermsg"
	"github.com/storebox/storebox/protocol/receipt"
)

// env is a real store with a catalog, the orders service with printing
// hooked in, and printers that tests point where they like.
type env struct {
	t   *testing.T
	st  *store.Store
	ord *orders.Service
	prn *Service
	n   int
}

func newEnv(t *testing.T, printers ...Printer) *env {
	t.Helper()
	st := storetest.Open(t, t.TempDir(), store.Options{})
	_, err := st.Import(func(y func(store.ImportRow) error) error {
		return y(store.ImportRow{Line: 1, Goods: goods.Goods{GID: "G1", Name: "农夫山泉 Water 550ml", Price: 200, Unit: goods.UnitPieces},
			Stock: map[string]int64{"main": 100000}, HasStock: true})
	}, store.ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	prn, err := New(Config{Printers: printers, StoreID: "s1", StoreName: "Corner 超市", Layout: receipt.Layout{Width: 32, Decimals: 2},
		QR: true, StatusEvery: 200 * time.Millisecond, FaultAfter: 300 * time.Millisecond,
		Timeouts: printer.Timeouts{Dial: time.Second, Write: 2 * time.Second, Query: 300 * time.Millisecond}}, st, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ord, err := orders.New(orders.Config{OnPaid: prn.OnPaid}, st, payments.Providers{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { prn.Serve(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return &env{t: t, st: st, ord: ord, prn: prn}
}

// pay makes and pays a cash order at terminal equip and returns its oid.
func (e *env) pay(equip string) string {
	e.t.Helper()
	e.n++
	info, err := e.ord.GetPayInfo(context.Background(), equip, ordermsg.PayRequest{OrderID: fmt.Sprintf("o-%d", e.n), PayMethod: "cash",
		Lines: []ordermsg.LineRequest{{GID: "G1", Qty: new(float64(e.n))}}})
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.ord.MakePayment(equip, info.OID, "cash", info.AmountTotal); err != nil {
		e.t.Fatal(err)
	}
	return info.OID
}

func sim(t *testing.T, addr string) *printersim.Sim {
	t.Helper()
	s := printersim.New(simplifiedchinese.GB18030)
	if err := s.Listen(addr); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Serve(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return s
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func receipts(t *testing.T, s *printersim.Sim, n int) []printersim.Receipt {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rs, err := s.WaitReceipts(ctx, n)
	if err != nil {
		t.Fatalf("%v: %d receipts of %d", err, len(rs), n)
	}
	return rs
}

func oidOf(r printersim.Receipt) string {
	for _, l := range r.Lines {
		if f := strings.Fields(l); len(f) == 2 && f[0] == "Order" {
			return f[1]
		}
	}
	return ""
}

func TestPaidOrderPrintsOnItsTerminalsPrinters(t *testing.T) {
	front, back := sim(t, "127.0.0.1:0"), sim(t, "127.0.0.1:0")
	e := newEnv(t,
		Printer{ID: "front", Connect: "tcp://" + front.Addr(), Terminals: []string{"T-01"}, Cut: true, Drawer: "cash"},
		Printer{ID: "all", Connect: "tcp://" + back.Addr(), Terminals: []string{"*"}, Width: 48, Cut: true})
	oid := e.pay("T-01")
	other := e.pay("T-02")

	r := receipts(t, front, 1)[0]
	if oidOf(r) != oid || !r.Cut || len(r.QR) != 1 || r.QR[0] != oid || !strings.Contains(strings.Join(r.Lines, "\n"), "农夫山泉 Water 550ml") {
		t.Fatalf("front printed:\n%s", r.Text())
	}
	waitFor(t, "the drawer kick", func() bool { return front.Receipts()[0].Drawer })
	rs := receipts(t, back, 2)
	if oidOf(rs[0]) != oid || oidOf(rs[1]) != other || rs[0].Drawer || len(rs[0].Lines[5]) != 48 {
		t.Fatalf("the * printer printed, in order:\n%s\n%s", rs[0].Text(), rs[1].Text())
	}
	waitFor(t, "empty queues", func() bool { return e.prn.States()[0].Queued == 0 && e.prn.States()[1].Queued == 0 })
	if got := len(front.Receipts()); got != 1 {
		t.Fatalf("front printed %d receipts, want 1 (T-02's order is not its)", got)
	}
	if st := e.prn.States()[0]; st.State != printer.StateOK || st.Fault || st.Printed != 1 {
		t.Fatalf("front state %+v", st)
	}
}

// A printer that is off keeps its jobs; when it comes back they print in
// order, once each.
func TestOutageKeepsJobsInOrder(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nobody listens: the printer is off
	e := newEnv(t, Printer{ID: "p", Connect: "tcp://" + addr, Terminals: []string{"*"}, Cut: true})
	var oids []string
	for range 5 {
		oids = append(oids, e.pay("T-01"))
	}
	waitFor(t, "printer_fault", func() bool { s := e.prn.States()[0]; return s.Fault && s.State == printer.StateUnreachable })
	if s := e.prn.States()[0]; s.Queued != 5 || s.Error == "" {
		t.Fatalf("state while off: %+v", s)
	}
	p := sim(t, addr) // switched on
	rs := receipts(t, p, 5)
	for i, r := range rs {
		if oidOf(r) != oids[i] || !r.Cut {
			t.Fatalf("receipt %d is %s, want %s in order", i, oidOf(r), oids[i])
		}
	}
	waitFor(t, "the fault to clear", func() bool { s := e.prn.States()[0]; return !s.Fault && s.Queued == 0 })
	time.Sleep(300 * time.Millisecond) // a status round or two: nothing more may print
	if n := len(p.Receipts()); n != 5 {
		t.Fatalf("%d receipts printed, want 5", n)
	}
}

func TestPaperEndHoldsJobs(t *testing.T) {
	p := sim(t, "127.0.0.1:0")
	p.SetPaper(false)
	e := newEnv(t, Printer{ID: "p", Connect: "tcp://" + p.Addr(), Terminals: []string{"*"}, Cut: true})
	oid := e.pay("T-01")
	waitFor(t, "paper_end", func() bool { s := e.prn.States()[0]; return s.State == printer.StatePaperEnd && s.Fault })
	time.Sleep(200 * time.Millisecond)
	if _, b, dropped := p.Stats(); dropped != 0 || len(p.Receipts()) != 0 || b > 64 {
		t.Fatalf("a job went to a printer without paper: %d bytes read, %d dropped", b, dropped)
	}
	p.SetPaper(true)
	if r := receipts(t, p, 1)[0]; oidOf(r) != oid {
		t.Fatalf("printed %s", r.Text())
	}
	waitFor(t, "ok", func() bool { s := e.prn.States()[0]; return s.State == printer.StateOK && !s.Fault && s.Queued == 0 })
}

// A link that breaks mid-job gets the whole job again: the first part is
// on paper without a cut, the second copy is whole.
func TestCutOffJobIsResentWhole(t *testing.T) {
	p := sim(t, "127.0.0.1:0")
	e := newEnv(t, Printer{ID: "p", Connect: "tcp://" + p.Addr(), Terminals: []string{"*"}, Cut: true})
	waitFor(t, "the first status check", func() bool { return e.prn.States()[0].State == printer.StateOK })
	p.CutAfter(9 + 40) // the three status queries, then 40 bytes of the job
	oid := e.pay("T-01")
	rs := receipts(t, p, 2)
	if rs[0].Cut || !rs[1].Cut || oidOf(rs[1]) != oid {
		t.Fatalf("printed:\n%s\n%s", rs[0].Text(), rs[1].Text())
	}
	waitFor(t, "empty queue", func() bool { return e.prn.States()[0].Queued == 0 })
	if n := len(p.Receipts()); n != 2 {
		t.Fatalf("%d receipts, want the cut-off one and one whole", n)
	}
}

// A raw TCP listener that never answers DLE EOT still gets its receipts
// (sent blind) and the silence is a fault.
func TestRawListenerWithoutStatus(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got []printersim.Receipt
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				p := printersim.NewParser(simplifiedchinese.GB18030)
				buf := make([]byte, 4096)
				for {
					n, err := c.Read(buf)
					for _, ev := range p.Feed(buf[:n]) {
						if ev.Receipt != nil {
							mu.Lock()
							got = append(got, *ev.Receipt)
							mu.Unlock()
						}
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	e := newEnv(t, Printer{ID: "raw", Connect: "tcp://" + ln.Addr().String(), Terminals: []string{"*"}, Cut: true})
	oid := e.pay("T-01")
	waitFor(t, "the receipt", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == 1 })
	mu.Lock()
	if oidOf(got[0]) != oid {
		t.Fatalf("printed %s", got[0].Text())
	}
	mu.Unlock()
	waitFor(t, "no_answer fault", func() bool {
		s := e.prn.States()[0]
		return s.State == printer.StateNoAnswer && s.Fault && s.Queued == 0
	})
}

// Jobs are in the store file: a restart prints what was queued, and the
// payment and its job commit together.
func TestJobsSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	st := storetest.Open(t, dir, store.Options{})
	cfg := Config{Printers: []Printer{{ID: "p", Connect: "tcp://127.0.0.1:1", Terminals: []string{"*"}, Cut: true}}, Layout: receipt.Layout{Width: 32}}
	prn, err := New(cfg, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	paid := time.Now()
	o := &ordermsg.Order{OID: "x-1", EquipID: "T-9", Status: ordermsg.StatusPaid, Method: "card", PaidAt: &paid,
		Lines: []ordermsg.Line{{GID: "G1", Name: "Tea", Unit: "pcs", Qty: 1, Price: 100, Amount: 100}}, AmountTotal: 100}
	if err := st.Update(func(t *store.Tx) error { return prn.OnPaid(t, o) }); err != nil {
		t.Fatal(err)
	}
	if err := st.Update(func(t *store.Tx) error { return prn.PruneOrder(t, "unrelated") }); err != nil {
		t.Fatal(err)
	}
	st.Close()

	st = storetest.Open(t, dir, store.Options{})
	p := sim(t, "127.0.0.1:0")
	cfg.Printers[0].Connect = "tcp://" + p.Addr()
	prn, err = New(cfg, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	if q := prn.States()[0].Queued; q != 1 {
		t.Fatalf("queued after restart: %d", q)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go prn.Serve(ctx)
	if r := receipts(t, p, 1)[0]; oidOf(r) != "x-1" {
		t.Fatalf("printed %s", r.Text())
	}
	waitFor(t, "empty queue", func() bool { return prn.States()[0].Queued == 0 })
	// The retention hook removes a pruned order's jobs.
	if err := st.Update(func(t *store.Tx) error { return prn.OnPaid(t, o) }); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := st.Update(func(t *store.Tx) error { return prn.PruneOrder(t, "x-1") }); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the pruned job gone", func() bool { return prn.States()[0].Queued == 0 })
}

func TestReprintAndTestPage(t *testing.T) {
	p := sim(t, "127.0.0.1:0")
	e := newEnv(t, Printer{ID: "p", Connect: "tcp://" + p.Addr(), Terminals: []string{"T-01"}, Cut: true, Drawer: "cash"})
	oid := e.pay("T-01")
	receipts(t, p, 1)
	_, r, ok, err := e.ord.PaidReceipt(oid)
	if !ok || err != nil {
		t.Fatal(ok, err)
	}
	if ids, err := e.prn.Reprint("", "T-01", r); err != nil || len(ids) != 1 {
		t.Fatal(ids, err)
	}
	c := receipts(t, p, 2)[1]
	if !strings.Contains(c.Lines[0], "*** COPY ***") || oidOf(c) != oid || c.Drawer {
		t.Fatalf("copy:\n%s", c.Text())
	}
	if _, err := e.prn.Reprint("", "T-77", r); err == nil {
		t.Fatal("reprint for a terminal no printer serves")
	}
	if _, err := e.prn.Reprint("nope", "", r); err == nil {
		t.Fatal("reprint on an unknown printer")
	}
	if err := e.prn.TestPage("p"); err != nil {
		t.Fatal(err)
	}
	tp := receipts(t, p, 3)[2]
	if !strings.Contains(tp.Text(), "TEST PAGE") || !strings.Contains(tp.Text(), "12345678901234567890123456789012") {
		t.Fatalf("test page:\n%s", tp.Text())
	}
}

// A receipt still queued for a printer that never came back leaves with its
// order when the order retention removes the order.
func TestQueuedJobLeavesWithItsOrder(t *testing.T) {
	st := storetest.Open(t, t.TempDir(), store.Options{})
	_, err := st.Import(func(y func(store.ImportRow) error) error {
		return y(store.ImportRow{Line: 1, Goods: goods.Goods{GID: "G1", Name: "Tea", Price: 100, Unit: goods.UnitPieces},
			Stock: map[string]int64{"main": 10}, HasStock: true})
	}, store.ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	prn, err := New(Config{Printers: []Printer{{ID: "off", Connect: "tcp://127.0.0.1:1", Terminals: []string{"*"}}}}, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	ord, err := orders.New(orders.Config{OnPaid: prn.OnPaid, Now: func() time.Time { return now }, Retention: 24 * time.Hour, Acknowledged: true},
		st, payments.Providers{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ord.OnPrune(prn.PruneOrder)
	info, err := ord.GetPayInfo(context.Background(), "T-01", ordermsg.PayRequest{OrderID: "r-1", PayMethod: "cash",
		Lines: []ordermsg.LineRequest{{GID: "G1", Qty: new(1.0)}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := ord.MakePayment("T-01", info.OID, "cash", info.AmountTotal); err != nil {
		t.Fatal(err)
	}
	if q := prn.States()[0].Queued; q != 1 {
		t.Fatalf("queued %d", q)
	}
	qs, _ := st.Outbox().QueueStats()
	if err := st.Outbox().Ack(qs.LastSeq); err != nil {
		t.Fatal(err)
	}
	res, err := ord.Prune(context.Background(), now.Add(48*time.Hour))
	if err != nil || res.Removed != 1 {
		t.Fatalf("prune: %+v %v", res, err)
	}
	waitFor(t, "the queue to empty", func() bool { return prn.States()[0].Queued == 0 })
	if err := st.View(func(tx *bbolt.Tx) error {
		if j, _ := first(tx, "off"); j != nil {
			t.Errorf("job %d of pruned order %s still queued", j.Seq, j.OID)
		}
		if k, _ := tx.Bucket(bktOIDs).Cursor().First(); k != nil {
			t.Errorf("oid index keeps %q", k)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// On a GB18030 printer é, · and — are double-byte glyphs two columns wide:
// the receipt is laid out with the printer's measure, so no line runs over
// the paper's width (with a display's measure this name takes 41 columns
// of a 32-column line).
func TestReceiptFitsThePrintersColumns(t *testing.T) {
	st := storetest.Open(t, t.TempDir(), store.Options{})
	s, err := New(Config{Printers: []Printer{{ID: "p", Connect: "tcp://127.0.0.1:1", Terminals: []string{"*"}}},
		Layout: receipt.Layout{Width: 32, Decimals: 2, Footer: []string{"Merci · 谢谢 — à bientôt, très cher client fidèle"}}}, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := receipt.Receipt{OID: "x-1", StoreName: "Café Crème · 咖啡", Method: "cash", AmountTotal: 100,
		Lines: []receipt.Line{{GID: "g", Name: "Crème brûlée · 特价 — très délicieuse édition", Qty: 1, UnitPrice: 100, Amount: 100}}}
	doc := s.doc(s.cfg.Printers[0], r, false, false)
	cols, _ := printer.Columns("gb18030")
	for i, ln := range doc.Lines {
		if n := cols(ln); n > 32 {
			t.Errorf("line %d takes %d printer columns of 32: %q", i, n, ln)
		}
	}
}

// An idle printer that is switched off becomes a fault after FaultAfter,
// not at the next 30-second status round, and clears as soon as it is back.
func TestIdleFaultRaisedAndClearedOnTime(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	st := storetest.Open(t, t.TempDir(), store.Options{})
	prn, err := New(Config{Printers: []Printer{{ID: "p", Connect: "tcp://" + addr, Terminals: []string{"*"}}},
		StatusEvery: time.Hour, Recheck: 100 * time.Millisecond, FaultAfter: 300 * time.Millisecond,
		Timeouts: printer.Timeouts{Dial: time.Second, Query: 300 * time.Millisecond}}, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { prn.Serve(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	waitFor(t, "printer_fault while idle", func() bool { s := prn.States()[0]; return s.Fault && s.State == printer.StateUnreachable })
	sim(t, addr)
	waitFor(t, "the fault to clear", func() bool { s := prn.States()[0]; return !s.Fault && s.State == printer.StateOK })
}

func TestConfigFromDefaultsToEveryTerminal(t *testing.T) {
	c := config.Default()
	c.Printers = []config.Printer{{ID: "a", Connect: "tcp://10.0.0.5:9100"}, {ID: "b", Connect: "/dev/usb/lp0", Terminals: []string{"T-01"}, Cut: new(false)}}
	got := ConfigFrom(c, receipt.Layout{}, "x").Printers
	if !got[0].serves("T-77") || !got[0].Cut || got[1].serves("T-77") || !got[1].serves("T-01") || got[1].Cut {
		t.Fatalf("printers %+v", got)
	}
}
