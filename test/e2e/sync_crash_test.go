package e2e

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/storebox/storebox/test/harness"
	"github.com/storebox/storebox/test/testenv"
)

// kill -9 the daemon several times while it takes receipts and uploads them
// to a slow cloud; after restart and `sync now` the cloud holds every event
// exactly once, with no gap in seq.
func TestKill9DuringUploads(t *testing.T) {
	cloud := harness.StartCloud(t, "--secret", "k9", "--latency", "20ms", "--lose-ack-rate", "0.1", "--seed", "7")
	d := harness.New(t, fmt.Sprintf("[upstream]\nurl = %q\nsecret = \"k9\"\nbatch_events = 20\ntimeout = \"2s\"\n", cloud.URL))
	if out, err := d.Run("catalog", "import", sample()); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	var acked atomic.Int64
	rng := rand.New(rand.NewSource(1))
	ref := 0
	for round := 0; round < 4; round++ {
		d.Start()
		var wg sync.WaitGroup
		stop := make(chan struct{})
		for w := 0; w < 4; w++ {
			wg.Add(1)
			start := ref + w*100000
			go func(w, start int) {
				defer wg.Done()
				dev, err := d.Dial(fmt.Sprintf("T-K%d", w))
				if err != nil {
					return
				}
				defer dev.Close()
				if r, err := dev.Call("login", map[string]any{}); err != nil || r.Exception() != "" {
					return
				}
				for i := start; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					r, err := dev.Call("stockGoods", map[string]any{"whid": "main", "ref": fmt.Sprintf("K-%d", i), "lines": []any{map[string]any{"gid": "10001", "qty": 1}}})
					if err != nil {
						return // killed
					}
					if r.Exception() == "" {
						acked.Add(1)
					}
				}
			}(w, start)
		}
		time.Sleep(time.Duration(300+rng.Intn(700)) * time.Millisecond)
		d.Kill()
		close(stop)
		wg.Wait()
		ref += 1000000
	}
	d.Start()
	// The uploader drains on its own, retrying the injected lost acks; a
	// technician's `sync now` may fail on one of them and is simply rerun.
	var st struct {
		Queue struct {
			Depth   int    `json:"depth"`
			LastSeq uint64 `json:"last_seq"`
		} `json:"queue"`
	}
	testenv.EventuallyWithin(t, time.Minute, "a sync now that empties the queue", func() bool {
		if _, err := d.Run("sync", "now"); err != nil {
			return false
		}
		resp, err := d.Get("/api/v1/status")
		if err != nil {
			t.Fatal(err)
		}
		json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		return st.Queue.Depth == 0
	})
	cs := cloud.Stats(t)
	store := cs["stores"].(map[string]any)["test"].(map[string]any)
	if store["last_seq"].(float64) != float64(st.Queue.LastSeq) || store["distinct_seqs"].(float64) != float64(st.Queue.LastSeq) || store["gaps"].(float64) != 0 {
		t.Fatalf("cloud %v vs daemon last seq %d", store, st.Queue.LastSeq)
	}
	byType := cs["by_type"].(map[string]any)
	// Every acknowledged receipt is there (more may be: a receipt committed
	// just before a kill whose reply was lost).
	if n := byType["stock.received"].(float64); n < float64(acked.Load()) {
		t.Fatalf("cloud has %v stock.received, %d were acknowledged", n, acked.Load())
	}
	if cs["events"].(float64) != float64(st.Queue.LastSeq) {
		t.Fatalf("cloud stored %v events for %d seqs (duplicates must not be stored twice)", cs["events"], st.Queue.LastSeq)
	}
	t.Logf("%d receipts acknowledged, %d events, %v duplicate deliveries absorbed by id", acked.Load(), st.Queue.LastSeq, cs["duplicates"])
}
