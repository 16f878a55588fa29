package fleet

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/storebox/storebox/protocol/fleetmsg"
	"github.com/storebox/storebox/sync/upstream"
)

type fakeState struct {
	mu  sync.Mutex
	obs Observation
}

func (f *fakeState) set(fn func(*Observation)) { f.mu.Lock(); fn(&f.obs); f.mu.Unlock() }
func (f *fakeState) observe(bool) Observation  { f.mu.Lock(); defer f.mu.Unlock(); return f.obs }

func startReporter(t *testing.T, cloud *testCloud, st *fakeState, interval time.Duration, log *logRecorder, opts ...func(*ReporterConfig)) *Reporter {
	t.Helper()
	cfg := ReporterConfig{
		Link: cloud.link(2 * time.Second), Observe: st.observe, StoreID: "s1", Version: "test", DataDir: t.TempDir(),
		Started: time.Now(), Interval: interval, QueueAlarmAge: 15 * time.Minute, CheckEvery: 100 * time.Millisecond,
		Debounce: 200 * time.Millisecond, Log: slog.New(log),
	}
	for _, o := range opts {
		o(&cfg)
	}
	r := NewReporter(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Serve(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return r
}

func TestReporterSendsAtStartAndSoonAfterAnAlert(t *testing.T) {
	cloud := newTestCloud(t)
	st := &fakeState{obs: Observation{Ready: true, Devices: map[string]fleetmsg.DeviceCounts{"terminal": {Online: 1, Approved: 1}}}}
	startReporter(t, cloud, st, time.Hour, &logRecorder{})
	first := cloud.waitSnapshot(5*time.Second, func(fleetmsg.Health) bool { return true })
	if first.Store != "s1" || !first.Ready || first.Devices["terminal"].Online != 1 || first.Config.Source != fleetmsg.SourceFile ||
		first.Disk.FreeBytes == 0 || len(first.Alerts) != 0 {
		t.Fatalf("first snapshot %+v", first)
	}
	// A device waits for approval: a snapshot goes out well before the hour.
	st.set(func(o *Observation) { o.Pending = []string{"T-09"} })
	h := cloud.waitSnapshot(5*time.Second, func(h fleetmsg.Health) bool { return len(h.Alerts) == 1 })
	if a := h.Alerts[0]; a.Kind != fleetmsg.AlertDevicePending || a.Subject != "T-09" || a.Since.IsZero() {
		t.Fatalf("alert %+v", a)
	}
	// Cleared: another snapshot without it.
	st.set(func(o *Observation) { o.Pending = nil })
	cloud.waitSnapshot(5*time.Second, func(h fleetmsg.Health) bool { return len(h.Alerts) == 0 && h.At.After(first.At) })
}

func TestReporterDebouncesABurstOfKicks(t *testing.T) {
	cloud := newTestCloud(t)
	// A burst of ~100 ms against a 2 s debounce: one snapshot even on a
	// loaded machine.
	r := startReporter(t, cloud, &fakeState{}, time.Hour, &logRecorder{}, func(c *ReporterConfig) { c.Debounce = 2 * time.Second })
	cloud.waitSnapshot(5*time.Second, func(fleetmsg.Health) bool { return true })
	for range 20 {
		r.Kick()
		time.Sleep(5 * time.Millisecond)
	}
	cloud.waitSnapshot(10*time.Second, func(h fleetmsg.Health) bool { return len(cloud.snapshots()) >= 2 })
	time.Sleep(500 * time.Millisecond)
	if n := len(cloud.snapshots()); n != 2 {
		t.Fatalf("%d snapshots after a burst of 20 kicks, want 2 (start + one)", n)
	}
}

func TestReporterLogsACloudOutageOnce(t *testing.T) {
	cloud := newTestCloud(t)
	cloud.setDown(true)
	log := &logRecorder{}
	r := startReporter(t, cloud, &fakeState{}, 50*time.Millisecond, log)
	time.Sleep(time.Second)
	if n := log.count(slog.LevelWarn, "health snapshot not delivered"); n != 1 {
		t.Fatalf("%d warnings for ~20 failed snapshots, want 1", n)
	}
	if _, _, lastErr := r.Delivery(); lastErr == "" {
		t.Fatal("Delivery does not report the outage")
	}
	cloud.setDown(false)
	for deadline := time.Now().Add(5 * time.Second); log.count(slog.LevelInfo, "delivered again") == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no recovery line")
		}
	}
	time.Sleep(300 * time.Millisecond) // a few more snapshots go out
	if n := log.count(slog.LevelInfo, "delivered again"); n != 1 {
		t.Fatalf("%d recovery lines, want 1", n)
	}
}

func TestReporterSendsWhenTheDaemonBecomesReady(t *testing.T) {
	cloud := newTestCloud(t)
	st := &fakeState{}
	startReporter(t, cloud, st, time.Hour, &logRecorder{})
	if h := cloud.waitSnapshot(5*time.Second, func(fleetmsg.Health) bool { return true }); h.Ready {
		t.Fatal("first snapshot ready")
	}
	st.set(func(o *Observation) { o.Ready = true })
	cloud.waitSnapshot(5*time.Second, func(h fleetmsg.Health) bool { return h.Ready })
}

// A printer out of paper goes to the cloud at once: its state in printers[]
// and a printer_fault alert naming it.
func TestReporterSendsPrinterFault(t *testing.T) {
	cloud := newTestCloud(t)
	st := &fakeState{obs: Observation{Ready: true, Printers: []PrinterObservation{{PrinterHealth: fleetmsg.PrinterHealth{ID: "front", State: "ok"}}}}}
	startReporter(t, cloud, st, time.Hour, &logRecorder{})
	first := cloud.waitSnapshot(5*time.Second, func(fleetmsg.Health) bool { return true })
	if len(first.Printers) != 1 || first.Printers[0].ID != "front" || first.Printers[0].State != "ok" || len(first.Alerts) != 0 {
		t.Fatalf("first snapshot printers %+v alerts %+v", first.Printers, first.Alerts)
	}
	st.set(func(o *Observation) {
		o.Printers[0] = PrinterObservation{PrinterHealth: fleetmsg.PrinterHealth{ID: "front", State: "paper_end", Queued: 2, Error: "out of paper"}, Fault: true}
	})
	h := cloud.waitSnapshot(5*time.Second, func(h fleetmsg.Health) bool { return len(h.Alerts) == 1 })
	if a := h.Alerts[0]; a.Kind != fleetmsg.AlertPrinterFault || a.Subject != "front" || h.Printers[0].State != "paper_end" || h.Printers[0].Queued != 2 {
		t.Fatalf("alert %+v printers %+v", a, h.Printers)
	}
}

// Once the store signs with the cloud's time, every time in a snapshot is
// on the cloud's clock: at, alerts' since, applied_at, last_reading_at,
// last_sync_at (UPSTREAM.md §7.1).
func TestSnapshotTimesOnTheCloudsClock(t *testing.T) {
	now := time.Now()
	synced, read := now.Add(-time.Minute), now.Add(-time.Second)
	st := &fakeState{obs: Observation{
		Pending:     []string{"T-1"},
		QueueOldest: now.Add(-20 * time.Minute),
		Queue:       fleetmsg.QueueHealth{Depth: 1, LastSyncAt: &synced},
		Scales:      []fleetmsg.ScaleHealth{{ID: "deli", State: "connected", LastReadingAt: &read}},
	}}
	r := NewReporter(ReporterConfig{Observe: st.observe, StoreID: "s1", DataDir: t.TempDir(), Started: now, QueueAlarmAge: 15 * time.Minute,
		Config: func() ConfigState { return ConfigState{Source: fleetmsg.SourceFile, AppliedAt: now.Add(-time.Hour)} },
		Clock: func() upstream.ClockState {
			return upstream.ClockState{Offset: -time.Hour, Known: true, Corrected: true}
		}})
	h, _ := r.Snapshot(now)
	cloud := func(t time.Time) time.Time { return t.Add(time.Hour).UTC() }
	if !h.At.Equal(cloud(now)) || !h.Queue.LastSyncAt.Equal(cloud(synced)) || !h.Scales[0].LastReadingAt.Equal(cloud(read)) ||
		!h.Config.AppliedAt.Equal(cloud(now.Add(-time.Hour))) {
		t.Fatalf("snapshot times not on the cloud's clock: at %v, last_sync_at %v, last_reading_at %v, applied_at %v (cloud now %v)",
			h.At, h.Queue.LastSyncAt, h.Scales[0].LastReadingAt, h.Config.AppliedAt, cloud(now))
	}
	want := map[string]time.Time{"device_pending": cloud(now), "queue_stale": cloud(now.Add(-5 * time.Minute))}
	for _, a := range h.Alerts {
		if w, ok := want[a.Kind]; !ok || !a.Since.Equal(w) {
			t.Errorf("%s since %v, want %v", a.Kind, a.Since, w)
		}
		delete(want, a.Kind)
	}
	if len(want) != 0 {
		t.Errorf("missing alerts %v in %+v", want, h.Alerts)
	}
	if h.UptimeS != 0 {
		t.Errorf("uptime %d s", h.UptimeS)
	}
}
