package uploader_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/storebox/storebox/protocol/ledger"
	"github.com/storebox/storebox/sync/cloudref"
	"github.com/storebox/storebox/sync/uploader"
	"github.com/storebox/storebox/sync/uploader/uploadertest"
	"github.com/storebox/storebox/sync/upstream"
	"github.com/storebox/storebox/test/testenv"
)

func cloud(t *testing.T, opt cloudref.Options) (*cloudref.Server, *upstream.Client) {
	t.Helper()
	opt.Secret = "k"
	if opt.Seed == 0 {
		opt.Seed = 42
	}
	srv, err := cloudref.New(opt)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() { srv.Close(); hs.Close() })
	return srv, upstream.New(hs.URL, "s1", "k", 2*time.Second)
}

func fastConfig() uploader.Config {
	return uploader.Config{StoreID: "s1", MinBackoff: 5 * time.Millisecond, MaxBackoff: 100 * time.Millisecond, IdlePing: -1}
}

func run(t *testing.T, u *uploader.Uploader) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- u.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve returned %v after cancel, want nil", err)
		}
	})
}

func fill(q *uploadertest.MemQueue, n int, types ...string) {
	if len(types) == 0 {
		types = []string{ledger.OrderCreated, ledger.OrderPaid}
	}
	for i := range n {
		q.Append(types[i%len(types)], map[string]any{"oid": i, "amount_total": 100 * i})
	}
}

// complete checks the cloud holds seq 1..n exactly once each, received in order.
func complete(t *testing.T, srv *cloudref.Server, n int) cloudref.Stats {
	t.Helper()
	st := srv.Stats()
	ss := st.Stores["s1"]
	if st.Events != uint64(n) || ss.LastSeq != uint64(n) || ss.Distinct != uint64(n) || ss.Gaps != 0 || ss.OutOfOrder != 0 {
		t.Fatalf("cloud holds %d events (last seq %d, distinct %d, gaps %d, out of order %d), want exactly 1..%d in order",
			st.Events, ss.LastSeq, ss.Distinct, ss.Gaps, ss.OutOfOrder, n)
	}
	return st
}

func TestDrainsInOrderThroughFailuresAndLostAcks(t *testing.T) {
	srv, c := cloud(t, cloudref.Options{FailRate: 0.3, LoseAckRate: 0.2, PartialAck: true})
	q := uploadertest.NewMemQueue()
	const n = 3000
	fill(q, n)
	cfg := fastConfig()
	cfg.BatchEvents = 200
	u := uploader.New(q, uploader.HTTPSink(c), cfg)
	run(t, u)
	testenv.Eventually(t, "the queue to drain", func() bool { return u.Status().Depth == 0 })
	st := complete(t, srv, n)
	if st.InjectedFail == 0 || st.LostAcks == 0 {
		t.Fatalf("faults never fired: %+v", st)
	}
	// Every duplicate must come from a lost acknowledgement: at most one
	// batch (200 events) per lost ack.
	if st.Duplicates > st.LostAcks*200 {
		t.Fatalf("%d duplicates but only %d lost acks", st.Duplicates, st.LostAcks)
	}
	if q.MaxPending > 200 {
		t.Fatalf("read %d events at once, batch limit 200", q.MaxPending)
	}
	s := u.Status()
	if !s.Online || s.Sent != n || s.LastSuccess.IsZero() {
		t.Fatalf("status = %+v", s)
	}
}

func TestRejectedTypeIsDeadLetteredAlone(t *testing.T) {
	srv, c := cloud(t, cloudref.Options{RejectTypes: []string{ledger.OrderCancelled}})
	q := uploadertest.NewMemQueue()
	fill(q, 1000, ledger.OrderCreated, ledger.OrderPaid, ledger.OrderCreated, ledger.OrderPaid, ledger.StockReceived)
	q.Append(ledger.OrderCancelled, map[string]string{"oid": "bad-1"})
	fill(q, 500)
	q.Append(ledger.OrderCancelled, map[string]string{"oid": "bad-2"})
	u := uploader.New(q, uploader.HTTPSink(c), fastConfig())
	run(t, u)
	testenv.Eventually(t, "the queue to drain", func() bool { return u.Status().Depth == 0 })
	dead, reasons := q.Dead()
	if len(dead) != 2 || dead[0].Seq != 1001 || dead[1].Seq != 1502 {
		t.Fatalf("dead letters = %+v", dead)
	}
	if !strings.Contains(reasons[0], "400") || !strings.Contains(reasons[0], "order.cancelled") {
		t.Fatalf("reason = %q", reasons[0])
	}
	st := srv.Stats()
	if st.Events != 1500 || st.ByType[ledger.OrderCancelled] != 0 || st.Stores["s1"].OutOfOrder != 0 {
		t.Fatalf("stats = %+v", st)
	}
	if s := u.Status(); s.DeadLetters != 2 || !s.Online {
		t.Fatalf("status = %+v", s)
	}
}

func TestHangsTimeOutAndRetry(t *testing.T) {
	srv, c := cloud(t, cloudref.Options{HangRate: 0.4})
	c.Timeout = 150 * time.Millisecond
	q := uploadertest.NewMemQueue()
	fill(q, 300)
	cfg := fastConfig()
	cfg.BatchEvents = 50
	u := uploader.New(q, uploader.HTTPSink(c), cfg)
	run(t, u)
	testenv.Eventually(t, "the queue to drain", func() bool { return u.Status().Depth == 0 })
	if st := complete(t, srv, 300); st.InjectedHang == 0 {
		t.Fatal("no hang was injected")
	}
}

func TestFreshEventWakesUploader(t *testing.T) {
	srv, c := cloud(t, cloudref.Options{})
	q := uploadertest.NewMemQueue()
	u := uploader.New(q, uploader.HTTPSink(c), fastConfig())
	run(t, u)
	time.Sleep(50 * time.Millisecond) // let it go idle
	start := time.Now()
	q.Append(ledger.DoorOpened, map[string]string{"door": "d1"})
	testenv.Eventually(t, "the event to reach the cloud", func() bool { return srv.Stats().Events == 1 })
	t.Logf("fresh event reached the cloud in %s", time.Since(start))
}

// scriptSink answers from a script and records attempt times.
type scriptSink struct {
	mu     sync.Mutex
	script []func(ledger.Batch) (uint64, error)
	times  []time.Time
	sizes  []int
}

func (s *scriptSink) Send(ctx context.Context, b ledger.Batch) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.times = append(s.times, time.Now())
	s.sizes = append(s.sizes, len(b.Events))
	if len(s.script) == 0 {
		return b.Events[len(b.Events)-1].Seq, nil
	}
	f := s.script[0]
	s.script = s.script[1:]
	return f(b)
}

func TestRetryAfterIsHonoured(t *testing.T) {
	q := uploadertest.NewMemQueue()
	fill(q, 10)
	sink := &scriptSink{script: []func(ledger.Batch) (uint64, error){
		func(ledger.Batch) (uint64, error) {
			return 0, &upstream.RetryableError{Op: "post", Status: 429, RetryAfter: 400 * time.Millisecond}
		},
	}}
	u := uploader.New(q, sink, fastConfig())
	run(t, u)
	testenv.Eventually(t, "the queue to drain", func() bool { return u.Status().Depth == 0 })
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if len(sink.times) != 2 {
		t.Fatalf("%d attempts, want 2", len(sink.times))
	}
	if gap := sink.times[1].Sub(sink.times[0]); gap < 400*time.Millisecond {
		t.Fatalf("retried after %s, Retry-After was 400ms", gap)
	}
}

func TestAckSemantics(t *testing.T) {
	q := uploadertest.NewMemQueue()
	fill(q, 10)
	var batches []ledger.Batch
	sink := &scriptSink{script: []func(ledger.Batch) (uint64, error){
		func(b ledger.Batch) (uint64, error) { batches = append(batches, b); return 4, nil },  // partial
		func(b ledger.Batch) (uint64, error) { batches = append(batches, b); return 2, nil },  // acknowledges nothing new: retry
		func(b ledger.Batch) (uint64, error) { batches = append(batches, b); return 99, nil }, // beyond the batch: clamped
	}}
	q.Append("late", nil) // seq 11, after the first read
	cfg := fastConfig()
	cfg.BatchEvents = 10
	u := uploader.New(q, sink, cfg)
	run(t, u)
	testenv.Eventually(t, "the queue to drain", func() bool { return u.Status().Depth == 0 })
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if len(batches) != 3 || batches[0].BatchID != "s1-1-10" || batches[1].BatchID != "s1-5-11" || batches[2].BatchID != "s1-5-11" {
		ids := []string{}
		for _, b := range batches {
			ids = append(ids, b.BatchID)
		}
		t.Fatalf("batches = %v", ids)
	}
	// The clamped ack (99) must not have deleted seq 11's successor: there
	// is none, and Sent counts exactly the 11 events.
	if s := u.Status(); s.Sent != 11 {
		t.Fatalf("sent = %d, want 11", s.Sent)
	}
}

func TestBatchBytesBound(t *testing.T) {
	srv, c := cloud(t, cloudref.Options{})
	q := uploadertest.NewMemQueue()
	big := strings.Repeat("x", 20<<10)
	for range 120 {
		q.Append(ledger.StockReceived, map[string]string{"note": big})
	}
	u := uploader.New(q, uploader.HTTPSink(c), fastConfig())
	run(t, u)
	testenv.Eventually(t, "the queue to drain", func() bool { return u.Status().Depth == 0 })
	complete(t, srv, 120)
	if q.MaxPending > 52 { // 1 MiB / ~20 KiB
		t.Fatalf("a batch held %d events of 20 KiB", q.MaxPending)
	}
}

func TestDrainNowAndHandlers(t *testing.T) {
	srv, c := cloud(t, cloudref.Options{})
	q := uploadertest.NewMemQueue()
	fill(q, 1200)
	u := uploader.New(q, uploader.HTTPSink(c), fastConfig())
	// Not serving: DrainNow alone does the work.
	var calls [][2]int
	if err := u.DrainNow(context.Background(), func(sent, rem int) { calls = append(calls, [2]int{sent, rem}) }); err != nil {
		t.Fatal(err)
	}
	complete(t, srv, 1200)
	if len(calls) < 4 || calls[0] != [2]int{0, 1200} || calls[len(calls)-1] != [2]int{1200, 0} {
		t.Fatalf("progress = %v", calls)
	}

	// Over HTTP, as the daemon serves it.
	fill(q, 700)
	hs := httptest.NewServer(u.SyncNowHandler())
	defer hs.Close()
	resp, err := http.Post(hs.URL, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var last uploader.Progress
	sc := bufio.NewScanner(resp.Body)
	lines := 0
	for sc.Scan() {
		if err := json.Unmarshal(sc.Bytes(), &last); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		lines++
	}
	if !last.Done || last.Error != "" || last.Sent != 700 || last.Remaining != 0 || lines < 2 {
		t.Fatalf("last line %+v after %d lines", last, lines)
	}

	// An unreachable cloud fails DrainNow at once, with the reason.
	hs2 := httptest.NewServer(http.NotFoundHandler())
	dead := hs2.URL
	hs2.Close()
	fill(q, 5)
	u2 := uploader.New(q, uploader.HTTPSink(upstream.New(dead, "s1", "k", time.Second)), fastConfig())
	err = u2.DrainNow(context.Background(), nil)
	if !upstream.IsRetryable(err) {
		t.Fatalf("DrainNow against a dead cloud: %v", err)
	}
	if s := u2.Status(); s.Online || s.LastError == "" || s.Depth != 5 {
		t.Fatalf("status = %+v", s)
	}
	b, _ := json.Marshal(u2.Status())
	if !strings.Contains(string(b), `"oldest_age_s":`) || !strings.Contains(string(b), `"depth":5`) {
		t.Fatalf("status JSON = %s", b)
	}
}

func TestServeStopsOnCancelDuringBackoff(t *testing.T) {
	q := uploadertest.NewMemQueue()
	fill(q, 1)
	sink := &scriptSink{}
	for range 100 {
		sink.script = append(sink.script, func(ledger.Batch) (uint64, error) {
			return 0, &upstream.RetryableError{Op: "x", Err: errors.New("down")}
		})
	}
	cfg := fastConfig()
	cfg.MinBackoff, cfg.MaxBackoff = time.Hour, time.Hour
	u := uploader.New(q, sink, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- u.Serve(ctx) }()
	testenv.Eventually(t, "a failed attempt", func() bool { return u.Status().LastError != "" })
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not stop")
	}
}

// kicks counts the uploader's kicks (the catalog feed in the daemon).
type kicks struct{ n atomic.Int32 }

func (k *kicks) Kick() { k.n.Add(1) }

func TestReconnectedIsKickedAtFirstSuccessAndAfterAnOutage(t *testing.T) {
	q := uploadertest.NewMemQueue()
	fill(q, 5)
	down := func(ledger.Batch) (uint64, error) {
		return 0, &upstream.RetryableError{Op: "post", Status: 503}
	}
	sink := &scriptSink{script: []func(ledger.Batch) (uint64, error){down, down}}
	k := &kicks{}
	cfg := fastConfig()
	cfg.Reconnected = k
	u := uploader.New(q, sink, cfg)
	run(t, u)
	testenv.Eventually(t, "the queue to drain", func() bool { return u.Status().Depth == 0 })
	if n := k.n.Load(); n != 1 {
		t.Fatalf("kicked %d times after one outage ended, want 1", n)
	}
	sink.mu.Lock()
	sink.script = append(sink.script, down)
	sink.mu.Unlock()
	fill(q, 1)
	testenv.Eventually(t, "the next outage to end", func() bool { return k.n.Load() == 2 })
}

// rebasingQueue is a queue in a new or restored data directory.
type rebasingQueue struct {
	*uploadertest.MemQueue
	mu  sync.Mutex
	due string
}

func (q *rebasingQueue) RebaseDue() (string, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.due, nil
}

func (q *rebasingQueue) Rebase(last uint64) (uploader.Rebase, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := q.Renumber(last + 1)
	rb := uploader.Rebase{Reason: q.due, FirstSeq: last + 1, Events: n, Changed: true}
	q.due = ""
	return rb, nil
}

// A box that replaced another of the same store: nothing leaves before the
// cloud told its last seq, then the queue goes above it, once by id.
func TestNewBoxNumbersAboveTheCloud(t *testing.T) {
	srv, c := cloud(t, cloudref.Options{})
	old := uploadertest.NewMemQueue()
	fill(old, 30)
	u := uploader.New(old, uploader.HTTPSink(c), fastConfig())
	if err := u.DrainNow(context.Background(), nil); err != nil {
		t.Fatal(err)
	}

	// The new box sold 12 (ids of its own, seq 1..12) before it reached
	// the cloud. (MemQueue's ids follow its counter: skip the old box's.)
	nq := &rebasingQueue{MemQueue: uploadertest.NewMemQueue(), due: "new"}
	fill(nq.MemQueue, 42)
	nq.Ack(30)
	nq.Renumber(1)

	// The cloud down: nothing is sent, the rebase waits.
	down := upstream.New("http://127.0.0.1:1", "s1", "k", time.Second)
	if err := uploader.New(nq, uploader.HTTPSink(down), fastConfig()).DrainNow(context.Background(), nil); err == nil {
		t.Fatal("drained without asking the cloud")
	}
	if due, _ := nq.RebaseDue(); due != "new" {
		t.Fatalf("due %q after a failed ask", due)
	}

	u = uploader.New(nq, uploader.HTTPSink(c), fastConfig())
	if err := u.DrainNow(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	st := srv.Stats()
	ss := st.Stores["s1"]
	if ss.LastSeq != 42 || ss.Distinct != 42 || ss.Gaps != 0 || st.SeqFaults != 0 {
		t.Fatalf("cloud %+v (faults %d), want 1..42 with no fault", ss, st.SeqFaults)
	}
}
