package orders

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/storebox/storebox/daemon/devices"
	"github.com/storebox/storebox/daemon/orders/internal/orderdb"
	"github.com/storebox/storebox/daemon/payments"
	"github.com/storebox/storebox/daemon/store"
	"github.com/storebox/storebox/daemon/store/storetest"
	"github.com/storebox/storebox/protocol/goods"
	"github.com/storebox/storebox/protocol/ledger"
	"github.com/storebox/storebox/protocol/ordermsg"
)

// env is a store with a small catalog, the order service and (optionally)
// the real device server in front of it.
type env struct {
	t      testing.TB
	dir    string
	st     *store.Store
	svc    *Service
	srv    *devices.Server
	addr   string
	cfg    Config
	prov   payments.Providers
	push   *pushTo // the service's Pusher, pointed where a test wants
	cancel context.CancelFunc
	done   chan struct{}
}

var catalog = []store.ImportRow{
	{Line: 1, Goods: goods.Goods{GID: "G1", Name: "Water 550ml", Price: 200, Unit: goods.UnitPieces}, Stock: map[string]int64{"main": 10}, HasStock: true},
	{Line: 2, Goods: goods.Goods{GID: "G2", Name: "Cola 330ml", Price: 350, Unit: goods.UnitPieces}, Stock: map[string]int64{"main": 3}, HasStock: true},
	{Line: 3, Goods: goods.Goods{GID: "K1", Name: "Apples", Price: 1290, Unit: goods.UnitKg}, Stock: map[string]int64{"main": 20000}, HasStock: true},
	{Line: 4, Goods: goods.Goods{GID: "Z0", Name: "Sold out", Price: 100, Unit: goods.UnitPieces}, Stock: map[string]int64{"main": 0}, HasStock: true},
}

func importRows(t testing.TB, st *store.Store, rows []store.ImportRow) {
	t.Helper()
	_, err := st.Import(func(y func(store.ImportRow) error) error {
		for _, r := range rows {
			if err := y(r); err != nil {
				return err
			}
		}
		return nil
	}, store.ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
}

func newEnv(t testing.TB, cfg Config, prov payments.Providers) *env {
	t.Helper()
	e := &env{t: t, dir: t.TempDir(), cfg: cfg, prov: prov, push: &pushTo{}}
	st, err := store.Open(e.dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	importRows(t, st, catalog)
	st.Close()
	// Registered first, so it runs last: bbolt checks the file the test
	// left, after the service and the store have closed.
	t.Cleanup(func() { storetest.CheckFile(t, filepath.Join(e.dir, store.FileName)) })
	e.open()
	t.Cleanup(e.close)
	return e
}

// open (re)opens the store and the service, as a restart does.
func (e *env) open() {
	e.t.Helper()
	st, err := store.Open(e.dir, store.Options{})
	if err != nil {
		e.t.Fatal(err)
	}
	svc, err := New(e.cfg, st, e.prov, e.push, slog.New(slog.DiscardHandler))
	if err != nil {
		e.t.Fatal(err)
	}
	e.st, e.svc = st, svc
}

func (e *env) close() {
	e.stopServe()
	if e.srv != nil {
		e.srv = nil
	}
	if e.st != nil {
		e.st.Close()
		e.st = nil
	}
}

// pushTo forwards pushes to a Pusher a test picks after the service
// was built (a device server, a recorder).
type pushTo struct {
	mu sync.Mutex
	p  Pusher
}

func (t *pushTo) set(p Pusher) { t.mu.Lock(); t.p = p; t.mu.Unlock() }

func (t *pushTo) Push(equipID, action string, body any) bool {
	t.mu.Lock()
	p := t.p
	t.mu.Unlock()
	return p != nil && p.Push(equipID, action, body)
}

// serve runs the service's Serve loop until the test ends.
func (e *env) serve() {
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel, e.done = cancel, make(chan struct{})
	go func() {
		defer close(e.done)
		if err := e.svc.Serve(ctx); err != nil {
			e.t.Errorf("Serve: %v", err)
		}
	}()
}

func (e *env) stopServe() {
	if e.cancel != nil {
		e.cancel()
		<-e.done
		e.cancel = nil
	}
}

// listen starts the real device server (admission open) with the order
// actions registered, and points the service's pushes at it.
func (e *env) listen() {
	e.t.Helper()
	srv := devices.New(devices.Config{Listen: "127.0.0.1:0", Admission: "open"}, e.st, slog.New(slog.DiscardHandler))
	e.svc.Register(srv)
	e.push.set(srv)
	if err := srv.Bind(); err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { srv.Serve(ctx); close(done) }()
	e.t.Cleanup(func() { cancel(); <-done })
	e.srv, e.addr = srv, srv.Addr().String()
}

func (e *env) stock(gid string) store.StockLevel {
	e.t.Helper()
	return storetest.StockOf(e.t, e.st, "main", gid)
}

func (e *env) order(oid string) ordermsg.Order {
	e.t.Helper()
	o, ok, err := e.svc.Get(oid)
	if err != nil || !ok {
		e.t.Fatalf("order %s: ok=%v err=%v", oid, ok, err)
	}
	return o
}

// events returns the outbox's events of type typ (all when "").
func (e *env) events(typ string) []ledger.Event {
	e.t.Helper()
	evs, err := e.st.Outbox().Pending(0, 1<<20, 1<<30)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []ledger.Event
	for _, ev := range evs {
		if (typ == "" && (strings.HasPrefix(ev.Type, "order.") || strings.HasPrefix(ev.Type, "payment."))) || ev.Type == typ {
			out = append(out, ev)
		}
	}
	return out
}

// checkInvariants: no stock negative, reserved == the pending orders' lines.
func (e *env) checkInvariants() {
	e.t.Helper()
	want := map[string]int64{}
	err := e.st.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(orderdb.OrdersBucket).ForEach(func(k, v []byte) error {
			o, err := orderdb.Decode(v)
			if err != nil {
				return err
			}
			if o.Status == ordermsg.StatusPending {
				for _, l := range o.Lines {
					want[l.GID] += l.StockQty()
				}
			}
			return nil
		})
	})
	if err != nil {
		e.t.Fatal(err)
	}
	for _, r := range catalog {
		l := e.stock(r.Goods.GID)
		if l.OnHand < 0 || l.Reserved < 0 || l.Reserved > l.OnHand {
			e.t.Errorf("%s: stock %+v is inconsistent", r.Goods.GID, l)
		}
		if l.Reserved != want[r.Goods.GID] {
			e.t.Errorf("%s: reserved %d, pending orders hold %d", r.Goods.GID, l.Reserved, want[r.Goods.GID])
		}
	}
}

func f(v float64) *float64 { return &v }

func pcs(gid string, q float64) ordermsg.LineRequest {
	return ordermsg.LineRequest{GID: gid, Qty: f(q)}
}
func grams(gid string, w float64) ordermsg.LineRequest {
	return ordermsg.LineRequest{GID: gid, WeightG: f(w)}
}
func cashReq(id string, l ...ordermsg.LineRequest) ordermsg.PayRequest {
	return ordermsg.PayRequest{OrderID: id, Lines: l, PayMethod: ordermsg.MethodCash}
}

// term is a terminal on a real socket (line mode).
type term struct {
	t      testing.TB
	c      net.Conn
	id     string
	mu     sync.Mutex
	seq    int64
	wait   map[int64]chan msg
	pushes chan msg
	rerr   chan error
}

type msg struct {
	Head struct {
		Action string `json:"action"`
		Seq    *int64 `json:"seq"`
	} `json:"head"`
	Body map[string]any `json:"body"`
	Raw  string
}

func (m msg) exc() string  { s, _ := m.Body["exception"].(string); return s }
func (m msg) code() string { s, _ := m.Body["code"].(string); return s }
func (m msg) str(k string) string {
	s, _ := m.Body[k].(string)
	return s
}
func (m msg) num(k string) int64 {
	n, _ := m.Body[k].(float64)
	return int64(n)
}

func dialTerm(t testing.TB, addr, equipID string) *term {
	t.Helper()
	return dialAs(t, addr, equipID, "terminal")
}

// dialAs logs in as a device of kind.
func dialAs(t testing.TB, addr, equipID, kind string) *term {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	tm := &term{t: t, c: c, id: equipID, wait: map[int64]chan msg{}, pushes: make(chan msg, 64), rerr: make(chan error, 1)}
	t.Cleanup(func() { c.Close() })
	go tm.readLoop()
	if r := tm.call("login", map[string]any{"kind": kind}); r.exc() != "" {
		t.Fatalf("login %s: %s", equipID, r.Raw)
	}
	return tm
}

func (tm *term) readLoop() {
	sc := bufio.NewScanner(tm.c)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m msg
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			tm.rerr <- fmt.Errorf("bad frame %q: %v", sc.Text(), err)
			return
		}
		m.Raw = sc.Text()
		if m.Head.Seq != nil {
			tm.mu.Lock()
			ch := tm.wait[*m.Head.Seq]
			delete(tm.wait, *m.Head.Seq)
			tm.mu.Unlock()
			if ch != nil {
				ch <- m
				continue
			}
		}
		if m.Head.Action == "health" {
			continue
		}
		select {
		case tm.pushes <- m:
		default:
		}
	}
	tm.rerr <- fmt.Errorf("connection closed: %v", sc.Err())
}

func (tm *term) call(action string, body any) msg {
	tm.t.Helper()
	m, err := tm.try(action, body)
	if err != nil {
		tm.t.Fatal(err)
	}
	return m
}

// try is call without t.Fatal, for goroutines.
func (tm *term) try(action string, body any) (msg, error) {
	tm.mu.Lock()
	tm.seq++
	seq := tm.seq
	ch := make(chan msg, 1)
	tm.wait[seq] = ch
	tm.mu.Unlock()
	b, _ := json.Marshal(map[string]any{"head": map[string]any{"action": action, "equipId": tm.id, "seq": seq}, "body": body})
	tm.c.SetWriteDeadline(time.Now().Add(30 * time.Second))
	if _, err := tm.c.Write(append(b, '\n')); err != nil {
		return msg{}, fmt.Errorf("%s %s: write: %v", tm.id, action, err)
	}
	select {
	case m := <-ch:
		if m.Head.Action != action+"Return" {
			return m, fmt.Errorf("%s: reply action %q", action, m.Head.Action)
		}
		return m, nil
	case err := <-tm.rerr:
		return msg{}, fmt.Errorf("%s %s: %v", tm.id, action, err)
	case <-time.After(60 * time.Second):
		return msg{}, fmt.Errorf("%s %s: no reply in 60s", tm.id, action)
	}
}

// push waits for a push of action.
func (tm *term) push(action string) msg {
	tm.t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case m := <-tm.pushes:
			if m.Head.Action == action {
				return m
			}
		case <-deadline:
			tm.t.Fatalf("%s: no %s push in 30s", tm.id, action)
		}
	}
}

func bigRows() []store.ImportRow {
	return []store.ImportRow{
		{Line: 9, Goods: goods.Goods{GID: "BIG", Name: "Screws", Price: 1, Unit: goods.UnitPieces}, Stock: map[string]int64{"main": 20000}, HasStock: true},
		{Line: 10, Goods: goods.Goods{GID: "BIGK", Name: "Sand", Price: 1, Unit: goods.UnitKg}, Stock: map[string]int64{"main": 200000}, HasStock: true},
	}
}

type storeTx = store.Tx
