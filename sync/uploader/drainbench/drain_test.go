// Package drainbench times draining the daemon's real outbox (daemon/store)
// to the storebox-cloud binary over loopback. It holds only a benchmark:
//
//	go test -run '^$' -bench BenchmarkDrain -benchtime 1x ./sync/uploader/drainbench [-args -drain.events 1000000]
package drainbench

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/storebox/storebox/daemon/store"
	"github.com/storebox/storebox/daemon/store/outbox"
	"github.com/storebox/storebox/protocol/ledger"
	"github.com/storebox/storebox/sync/cloudref"
	"github.com/storebox/storebox/sync/uploader"
	"github.com/storebox/storebox/sync/upstream"
)

var drainEvents = flag.Int("drain.events", 1000000, "events queued for BenchmarkDrain")

// storeQueue adapts daemon/store's outbox to uploader.Queue.
type storeQueue struct{ *outbox.Queue }

func (q storeQueue) QueueStats() (uploader.QueueStats, error) {
	s, err := q.Queue.QueueStats()
	return uploader.QueueStats{Depth: s.Depth, Oldest: s.Oldest, DeadLetters: s.DeadLetters, LastSeq: s.LastSeq}, err
}

// BenchmarkDrain queues -drain.events events in the daemon's real bbolt
// outbox, then times draining them to the storebox-cloud binary (with its
// durable event log) over loopback with the default batch of 500:
//
//	go test -run '^$' -bench BenchmarkDrain -benchtime 1x ./sync/uploader/drainbench
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
		p := startCloud(b, b.TempDir())
		b.StartTimer()

		var ms0 runtime.MemStats
		runtime.ReadMemStats(&ms0)
		u := uploader.New(storeQueue{st.Outbox()}, uploader.HTTPSink(upstream.New(p.url, "s1", "k", 10*time.Second)), uploader.Config{StoreID: "s1"})
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

type cloudProc struct {
	cmd *exec.Cmd
	url string
}

// startCloud builds and runs storebox-cloud with a durable event log in dir.
func startCloud(b *testing.B, dir string) *cloudProc {
	b.Helper()
	bin := filepath.Join(b.TempDir(), "storebox-cloud")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/storebox/storebox/cmd/storebox-cloud").CombinedOutput(); err != nil {
		b.Fatalf("build storebox-cloud: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "--listen", "127.0.0.1:0", "--secret", "k", "--data", dir)
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	if !sc.Scan() {
		cmd.Wait()
		b.Fatal("storebox-cloud printed no address")
	}
	go io.Copy(io.Discard, stdout)
	return &cloudProc{cmd: cmd, url: "http://" + strings.TrimSpace(sc.Text())}
}

func (p *cloudProc) stats() cloudref.Stats {
	var st cloudref.Stats
	resp, err := http.Get(p.url + "/stats?format=json")
	if err == nil {
		json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
	}
	return st
}

func (p *cloudProc) stop() {
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.cmd.Wait()
}
