package printing

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/storebox/storebox/daemon/orders"
	"github.com/storebox/storebox/daemon/payments"
	"github.com/storebox/storebox/daemon/store"
	"github.com/storebox/storebox/drivers/printer"
	"github.com/storebox/storebox/drivers/printer/printersim"
	"github.com/storebox/storebox/protocol/goods"
	"github.com/storebox/storebox/protocol/ordermsg"
	"github.com/storebox/storebox/protocol/receipt"
)

// benchPrinter is a network printer on loopback that notes when the first
// byte of each job (ESC @) arrives and answers status queries.
type benchPrinter struct {
	ln     net.Listener
	starts chan time.Time
	jobs   atomic.Int64
}

func newBenchPrinter(b *testing.B) *benchPrinter {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	p := &benchPrinter{ln: ln, starts: make(chan time.Time, 1<<16)}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.serve(c)
		}
	}()
	b.Cleanup(func() { ln.Close() })
	return p
}

func (p *benchPrinter) serve(c net.Conn) {
	defer c.Close()
	ps := printersim.NewParser(nil)
	buf := make([]byte, 64<<10)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			at := time.Now()
			for i := 0; i+1 < n; i++ {
				if buf[i] == 0x1b && buf[i+1] == '@' {
					select {
					case p.starts <- at:
					default:
					}
				}
			}
			for _, ev := range ps.Feed(buf[:n]) {
				if ev.Query != 0 {
					c.Write([]byte{0x12})
				}
				if ev.Receipt != nil {
					p.jobs.Add(1)
				}
			}
		}
		if err != nil {
			return
		}
	}
}

func benchStore(b *testing.B) *store.Store {
	st, err := store.Open(b.TempDir(), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	_, err = st.Import(func(y func(store.ImportRow) error) error {
		return y(store.ImportRow{Line: 1, Goods: goods.Goods{GID: "G1", Name: "农夫山泉 Water 550ml", Price: 200, Unit: goods.UnitPieces},
			Stock: map[string]int64{"main": 1 << 40}, HasStock: true})
	}, store.ImportOptions{})
	if err != nil {
		b.Fatal(err)
	}
	return st
}

func benchConfig(connect string) Config {
	return Config{Printers: []Printer{{ID: "p", Connect: connect, Terminals: []string{"*"}, Cut: true, Drawer: "cash"}},
		StoreID: "s1", StoreName: "Corner 超市", Layout: receipt.Layout{Width: 32, Decimals: 2}, QR: true}
}

// BenchmarkPaidToPrinter: a cash payment at a terminal (its commit and
// fsync included) to the first byte of its receipt at a network printer on
// loopback, one order at a time, the printer idle in between (the daemon
// connects, asks DLE EOT 1/2/4, sends).
func BenchmarkPaidToPrinter(b *testing.B) {
	const n = 300
	st := benchStore(b)
	bp := newBenchPrinter(b)
	prn, err := New(benchConfig("tcp://"+bp.ln.Addr().String()), st, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	ord, err := orders.New(orders.Config{OnPaid: prn.OnPaid}, st, payments.Providers{}, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go prn.Serve(ctx)
	var lat []time.Duration
	for i := range n {
		info, err := ord.GetPayInfo(ctx, "T-01", ordermsg.PayRequest{OrderID: fmt.Sprint("b", i), PayMethod: "cash",
			Lines: []ordermsg.LineRequest{{GID: "G1", Qty: new(2.0)}}})
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		if err := ord.MakePayment("T-01", info.OID, "cash", info.AmountTotal); err != nil {
			b.Fatal(err)
		}
		select {
		case at := <-bp.starts:
			lat = append(lat, at.Sub(start))
		case <-time.After(10 * time.Second):
			b.Fatal("no receipt at the printer in 10 s")
		}
		for prn.States()[0].Queued > 0 { // let the worker go idle: every order starts from cold
			time.Sleep(time.Millisecond)
		}
	}
	slices.Sort(lat)
	q := func(f float64) time.Duration { return lat[int(f*float64(len(lat)-1))] }
	b.ReportMetric(float64(q(0.5).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(q(0.99).Microseconds())/1000, "p99-ms")
	fmt.Printf("  paid → first byte at the printer, %d orders one at a time: p50 %s  p99 %s  max %s (payment commit and fsync included)\n",
		n, q(0.5).Round(10*time.Microsecond), q(0.99).Round(10*time.Microsecond), lat[len(lat)-1].Round(10*time.Microsecond))
}

// queueJobs writes n receipt jobs for printer p straight into the store,
// in transactions of 500, as n paid orders would.
func queueJobs(b *testing.B, st *store.Store, prn *Service, n int) {
	paid := time.Now()
	o := &ordermsg.Order{EquipID: "T-01", Status: ordermsg.StatusPaid, Method: "cash", PaidAt: &paid, AmountTotal: 400,
		Lines: []ordermsg.Line{{GID: "G1", Name: "农夫山泉 Water 550ml", Unit: "pcs", Qty: 2, Price: 200, Amount: 400}}}
	for i := 0; i < n; i += 500 {
		err := st.Update(func(t *store.Tx) error {
			for j := i; j < min(i+500, n); j++ {
				o.OID, o.OrderID = fmt.Sprintf("bench-%08d", j), fmt.Sprint(j)
				if err := prn.OnPaid(t, o); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkJobsPerSecond: 2,000 queued receipts to one network printer on
// loopback that takes bytes as fast as they come (status before each job,
// the job, the acknowledging status query, the delete's commit).
func BenchmarkJobsPerSecond(b *testing.B) {
	const n = 2000
	st := benchStore(b)
	bp := newBenchPrinter(b)
	prn, err := New(benchConfig("tcp://"+bp.ln.Addr().String()), st, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	queueJobs(b, st, prn, n)
	var printed atomic.Int64
	done := make(chan struct{})
	var once sync.Once
	prn.OnPrinted(func(string, *Job) {
		if printed.Add(1) == n {
			once.Do(func() { close(done) })
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	start := time.Now()
	go prn.Serve(ctx)
	select {
	case <-done:
	case <-time.After(5 * time.Minute):
		b.Fatalf("only %d of %d printed", printed.Load(), n)
	}
	took := time.Since(start)
	b.ReportMetric(float64(n)/took.Seconds(), "jobs/s")
	fmt.Printf("  jobs to one printer: %d in %s = %.0f jobs/s (each acknowledged by the printer and deleted with an fsync)\n",
		n, took.Round(time.Millisecond), float64(n)/took.Seconds())
}

// BenchmarkQueued10k: the daemon's heap and the store file with 10,000
// receipts queued for a printer that is off (jobs live in the file, not in
// memory).
func BenchmarkQueued10k(b *testing.B) {
	const n = 10000
	st := benchStore(b)
	prn, err := New(benchConfig("tcp://127.0.0.1:1"), st, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	size := func() int64 { fi, _ := os.Stat(st.Path()); return fi.Size() }
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	file0, heap0 := size(), heap()
	queueJobs(b, st, prn, n)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go prn.Serve(ctx) // the worker finds the printer off and keeps them
	for prn.States()[0].State != printer.StateUnreachable {
		time.Sleep(10 * time.Millisecond)
	}
	if q := prn.States()[0].Queued; q != n {
		b.Fatalf("queued %d, want %d", q, n)
	}
	heap1, file1 := heap(), size()
	var job []byte
	_ = st.View(func(tx *bbolt.Tx) error { j, _ := first(tx, "p"); job = j.Data; return nil })
	b.ReportMetric(float64(int64(heap1)-int64(heap0))/(1<<20), "heap-MiB")
	b.ReportMetric(float64(file1-file0)/(1<<20), "file-MiB")
	fmt.Printf("  10,000 queued receipts (%d bytes of ESC/POS each): heap %+.1f MiB, store file %+.1f MiB (jobs wait in the file; memory holds a counter)\n",
		len(job), float64(int64(heap1)-int64(heap0))/(1<<20), float64(file1-file0)/(1<<20))
}
