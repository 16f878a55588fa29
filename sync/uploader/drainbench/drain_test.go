package main_test

import (
	"context"
	"flag"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/storebox/storebox/daemon/store"
	"github.com/storebox/storebox/protocol/ledger"
	"github.com/storebox/storebox/sync/uploader"
)

var drainEvents = flag.Int("drain.events", 1000000, "events queued for BenchmarkDrain")

// storeQueue adapts daemon/store's outbox to uploader.Queue.
type storeQueue struct{ *store.Store }

func (q storeQueue) QueueStats() (uploader.QueueStats, error) {
	s, err := q.Store.QueueStats()
	return uploader.QueueStats{Depth: s.Depth, Oldest: s.Oldest, DeadLetters: s.DeadLetters, LastSeq: s.LastSeq}, err
}

// BenchmarkDrain queues -drain.events events in the daemon's real bbolt
// outbox, then times draining them to the storebox-cloud binary (with its
// durable event log) over loopback with the default batch of 500:
//
//	go test -run '^$' -bench BenchmarkDrain -benchtime 1x ./cmd/storebox-cloud
func BenchmarkDrain(b *testing.B) {
	for range b.N {
		b.StopTimer()
		dir := b.TempDir()
		st, err := store.Open(dir, store.Options{})
		if err != nil {
			b.Fatal(err)
		}
		fillStart := time.Now()
		const chunk = 20000
		for done := 0; done < *drainEvents; done += chunk {
			err := st.Update(func(tx *store.Tx) error {
				for i := done; i < min(done+chunk, *drainEvents); i++ {
					if _, err := tx.AppendEvent(ledger.OrderPaid, map[string]any{
						"oid": fmt.Sprintf("o%08d", i), "order_id": fmt.Sprintf("T-01-%08d", i), "equipId": "T-01",
						"status": "paid", "amount_total": 1990, "method": "cash",
						"lines": []map[string]any{{"gid": "g1", "qty": 1, "amount": 1990}},
					}); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		fill := time.Since(fillStart)
		p := startCloud(b, "--data", b.TempDir())
		b.StartTimer()

		var ms0 runtime.MemStats
		runtime.ReadMemStats(&ms0)
		u := uploader.New(storeQueue{st}, uploader.HTTPSink(p.client(10*time.Second)), uploader.Config{StoreID: "s1"})
		start := time.Now()
		if err := u.DrainNow(context.Background(), nil); err != nil {
			b.Fatal(err)
		}
		el := time.Since(start)
		b.StopTimer()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		cs := p.stats()
		if cs.Events != uint64(*drainEvents) || cs.Stores["s1"].Gaps != 0 || cs.Stores["s1"].OutOfOrder != 0 {
			b.Fatalf("cloud holds %d events, gaps %d, out of order %d", cs.Events, cs.Stores["s1"].Gaps, cs.Stores["s1"].OutOfOrder)
		}
		b.ReportMetric(el.Seconds(), "s/drain")
		b.ReportMetric(float64(*drainEvents)/el.Seconds(), "events/s")
		b.Logf("queued %d events in %s; drained in %s (%.0f events/s, %d batches); heap in use after %d MiB",
			*drainEvents, fill.Round(time.Millisecond), el.Round(time.Millisecond), float64(*drainEvents)/el.Seconds(), cs.Batches, ms.HeapInuse>>20)
		p.stop()
		st.Close()
	}
}
