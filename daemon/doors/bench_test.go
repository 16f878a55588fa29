package doors

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/storebox/storebox/daemon/config"
	"github.com/storebox/storebox/daemon/doors/doorsim"
	"github.com/storebox/storebox/protocol/doormsg"
	"github.com/storebox/storebox/protocol/ledger"
	"github.com/storebox/storebox/test/testenv"
)

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// latencySink timestamps door.opened events by openId.
type latencySink struct {
	mu     sync.Mutex
	opened map[string]chan time.Time
	other  int
}

func (s *latencySink) AppendEvent(typ string, data any) error {
	d := data.(doormsg.LedgerData)
	s.mu.Lock()
	ch := s.opened[d.OpenID]
	if typ != ledger.DoorOpened {
		s.other++
	}
	s.mu.Unlock()
	if ch != nil {
		ch <- time.Now()
	}
	return nil
}

// BenchmarkDoors1000 connects DOORS_BENCH_DOORS (1,000) simulated doors at
// once, then sends DOORS_BENCH_RATE (50) scans per second for
// DOORS_BENCH_SECONDS (10) at random doors and reports the scan → cmd →
// ack → door.opened round trip as seen by the door: p50, p99, max.
//
//	go test -run '^$' -bench BenchmarkDoors1000 -benchtime 1x ./daemon/doors/
func BenchmarkDoors1000(b *testing.B) {
	nDoors := envInt("DOORS_BENCH_DOORS", 1000)
	rate := envInt("DOORS_BENCH_RATE", 50)
	seconds := envInt("DOORS_BENCH_SECONDS", 10)
	for i := 0; i < b.N; i++ {
		runDoorBench(b, nDoors, rate, seconds)
	}
}

func runDoorBench(b *testing.B, nDoors, rate, seconds int) {
	cfgDoors := make([]config.Door, nDoors)
	for i := range cfgDoors {
		cfgDoors[i] = config.Door{ID: fmt.Sprintf("D%04d", i), Secret: fmt.Sprintf("secret-%d", i), Policy: "entry", OpenMS: 500}
	}
	sink := &latencySink{opened: map[string]chan time.Time{}}
	s, err := New(Config{StoreID: testStore, MQTT: config.MQTT{Listen: "127.0.0.1:0"}, Doors: cfgDoors}, newFakeOrders(), sink, nil)
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Bind(); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan struct{})
	go func() { _ = s.Serve(ctx); close(served) }()
	defer func() { cancel(); <-served }()

	// Connect every door at once.
	t0 := time.Now()
	sims := make([]*doorsim.Door, nDoors)
	var wg sync.WaitGroup
	errs := make(chan error, nDoors)
	for i := range sims {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d, err := doorsim.Start(ctx, doorsim.Config{Broker: s.Addr(), StoreID: testStore, DoorID: cfgDoors[i].ID, Secret: cfgDoors[i].Secret, KeepAlive: 60})
			if err != nil {
				errs <- err
				return
			}
			sims[i] = d
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	defer func() {
		for _, d := range sims {
			d.Close()
		}
	}()
	testenv.Eventually(b, "every door online", func() bool { return s.Stats().DoorsOnline >= nDoors })
	connectTime := time.Since(t0)
	// Start returned after each door's SUBACK; a door reports its state
	// once connected: wait for every state, then the load starts.
	testenv.Eventually(b, "every door's first state", func() bool {
		for _, d := range s.Snapshot() {
			if d.State == "" {
				return false
			}
		}
		return true
	})

	// 50 scans/s at random doors, each with its own openId.
	total := rate * seconds
	lat := make([]time.Duration, 0, total)
	var latMu sync.Mutex
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	var scans sync.WaitGroup
	b.ResetTimer()
	for n := 0; n < total; n++ {
		<-tick.C
		openID := fmt.Sprintf("bench-%d", n)
		ch := make(chan time.Time, 1)
		sink.mu.Lock()
		sink.opened[openID] = ch
		sink.mu.Unlock()
		d := sims[(n*7919)%nDoors]
		scans.Add(1)
		go func() {
			defer scans.Done()
			start := time.Now()
			if err := d.Scan(ctx, openID, ""); err != nil {
				b.Error(err)
				return
			}
			select {
			case at := <-ch:
				latMu.Lock()
				lat = append(lat, at.Sub(start))
				latMu.Unlock()
			case <-time.After(30 * time.Second):
				b.Errorf("scan %s: no door.opened in 30s", openID)
			}
		}()
	}
	scans.Wait()
	b.StopTimer()
	slices.Sort(lat)
	if len(lat) == 0 {
		b.Fatal("no round trips measured")
	}
	pct := func(p float64) time.Duration { return lat[min(len(lat)-1, int(float64(len(lat))*p))] }
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(pct(0.50)), "p50-ms")
	b.ReportMetric(ms(pct(0.99)), "p99-ms")
	b.ReportMetric(ms(lat[len(lat)-1]), "max-ms")
	b.ReportMetric(connectTime.Seconds(), "connect-all-s")
	b.Logf("%d doors connected in %v; %d scans at %d/s: p50 %v p99 %v max %v; other outcomes %d, stats %+v",
		nDoors, connectTime.Round(time.Millisecond), len(lat), rate, pct(0.5), pct(0.99), lat[len(lat)-1], sink.other, s.Stats())
}
