// Package fleet is the store's side of UPSTREAM.md §7: it reports health snapshots
// with alerts to the cloud (Reporter) and applies the cloud's signed desired
// configuration all or nothing (Remote).
package fleet

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	"github.com/storebox/storebox/protocol/fleetmsg"
	"github.com/storebox/storebox/sync/upstream"
)

// HealthLink sends snapshots (fleetlink.Link does).
type HealthLink interface {
	PutHealth(ctx context.Context, body []byte) error
}

// ReporterConfig wires a Reporter.
type ReporterConfig struct {
	Link HealthLink
	// Observe reads the daemon's state; counts asks for the per-kind
	// device counts too, which a snapshot needs and an alert check
	// (every CheckEvery) does not: they read every device record.
	Observe func(counts bool) Observation
	// Config reports the running configuration and the last refusal.
	Config  func() ConfigState
	StoreID string
	Version string // the daemon's
	DataDir string // whose file system disk_low watches
	Started time.Time
	// Clock tells this box's clock against the cloud's (the link's); nil:
	// unknown. Once the store signs with the cloud's time, every time in a
	// snapshot (at, alerts' since, applied_at, last_reading_at,
	// last_sync_at) is reported on the cloud's clock too (UPSTREAM.md §7.1).
	Clock func() upstream.ClockState

	Interval      time.Duration // fleet.health_interval
	QueueAlarmAge time.Duration // fleet.queue_alarm_age
	// CheckEvery is how often alerts are evaluated between snapshots, so a
	// raised or cleared alert goes out within seconds (default 2s).
	CheckEvery time.Duration
	// Debounce gathers a burst of changes into one snapshot (default 1s).
	Debounce time.Duration
	Log      *slog.Logger
}

// Reporter sends health snapshots: at start, every Interval, and soon after
// an alert is raised or cleared or Kick is called. Latest wins: a snapshot
// that cannot be delivered is dropped, not queued.
type Reporter struct {
	cfg  ReporterConfig
	kick chan struct{}

	mu        sync.Mutex
	tr        tracker
	evaluated bool // lastReady is known
	lastReady bool
	lastErr   string // the last delivery error, "" while deliveries succeed
	sentAt    time.Time
	sent      int
}

// NewReporter returns a reporter; Serve runs it.
func NewReporter(cfg ReporterConfig) *Reporter {
	if cfg.CheckEvery <= 0 {
		cfg.CheckEvery = 2 * time.Second
	}
	if cfg.Interval > 0 && cfg.Interval < cfg.CheckEvery {
		cfg.CheckEvery = cfg.Interval
	}
	if cfg.Debounce <= 0 {
		cfg.Debounce = time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Config == nil {
		cfg.Config = func() ConfigState { return ConfigState{Source: fleetmsg.SourceFile} }
	}
	r := &Reporter{cfg: cfg, kick: make(chan struct{}, 1)}
	r.tr.toCloud = r.toCloud
	return r
}

// toCloud is a time of this box's clock on the cloud's, as the store signs
// (this box's minus the offset once it corrects); known says the offset
// has been measured (or there is nothing to measure against).
func (r *Reporter) toCloud(t time.Time) (time.Time, bool) {
	if r.cfg.Clock == nil {
		return t, true
	}
	st := r.cfg.Clock()
	if st.Corrected {
		return t.Add(-st.Offset), true
	}
	return t, st.Known
}

// cloudTime is toCloud without the knowing.
func (r *Reporter) cloudTime(t time.Time) time.Time {
	c, _ := r.toCloud(t)
	return c.UTC()
}

// cloudTimeP converts an optional time in place.
func (r *Reporter) cloudTimeP(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	c := r.cloudTime(*t)
	return &c
}

// Kick asks for a snapshot soon (a remote configuration applied or refused).
func (r *Reporter) Kick() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// Serve reports until ctx ends.
func (r *Reporter) Serve(ctx context.Context) error {
	h, _ := r.Snapshot(time.Now())
	r.send(ctx, h)
	check := time.NewTicker(r.cfg.CheckEvery)
	defer check.Stop()
	next := time.Now().Add(r.cfg.Interval)
	var debounce <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-r.kick:
			if debounce == nil {
				debounce = time.After(r.cfg.Debounce)
			}
		case <-debounce:
			debounce = nil
			now := time.Now()
			h, _ := r.Snapshot(now)
			r.send(ctx, h)
			next = now.Add(r.cfg.Interval)
		case now := <-check.C:
			if !now.Before(next) {
				debounce = nil
				h, _ := r.Snapshot(now)
				r.send(ctx, h)
				next = now.Add(r.cfg.Interval)
				continue
			}
			if _, changed := r.evaluate(r.cfg.Observe(false), now); changed && debounce == nil {
				debounce = time.After(r.cfg.Debounce)
			}
		}
	}
}

// Snapshot builds the health snapshot at now and reports whether an alert
// was raised or cleared since the previous one.
func (r *Reporter) Snapshot(now time.Time) (fleetmsg.Health, bool) {
	o := r.cfg.Observe(true)
	ev, changed := r.evaluate(o, now)
	st := ev.config
	cfgStatus := fleetmsg.ConfigStatus{Version: st.Version, Source: st.Source}
	if !st.AppliedAt.IsZero() {
		cfgStatus.AppliedAt = r.cloudTimeP(&st.AppliedAt)
	}
	if rf := st.Refusal; rf != nil {
		cfgStatus.Error = rf.Reason
	}
	disk, alerts := ev.disk, ev.alerts
	h := fleetmsg.Health{
		At: r.cloudTime(now), Store: r.cfg.StoreID, Version: r.cfg.Version, UptimeS: int64(now.Sub(r.cfg.Started) / time.Second),
		Ready: o.Ready, Config: cfgStatus, Devices: o.Devices, Scales: o.Scales, Doors: o.Doors, Queue: o.Queue, Disk: disk,
		Alerts: alerts,
	}
	if h.Devices == nil {
		h.Devices = map[string]fleetmsg.DeviceCounts{}
	}
	h.Queue.LastSyncAt = r.cloudTimeP(h.Queue.LastSyncAt)
	if h.Scales == nil {
		h.Scales = []fleetmsg.ScaleHealth{}
	}
	for i := range h.Scales {
		h.Scales[i].LastReadingAt = r.cloudTimeP(h.Scales[i].LastReadingAt)
	}
	if h.Doors == nil {
		h.Doors = []fleetmsg.DoorHealth{}
	}
	if h.Alerts == nil {
		h.Alerts = []fleetmsg.Alert{}
	}
	for _, p := range o.Printers {
		h.Printers = append(h.Printers, p.PrinterHealth)
	}
	return h, changed
}

// evaluation is one pass over the alert conditions.
type evaluation struct {
	alerts []fleetmsg.Alert
	disk   fleetmsg.DiskHealth
	config ConfigState
}

// evaluate updates the alerts from o at now, logs those raised and
// cleared, and reports whether any was.
func (r *Reporter) evaluate(o Observation, now time.Time) (evaluation, bool) {
	disk, derr := diskHealth(r.cfg.DataDir)
	cs := conditions(o, disk, derr == nil, r.cfg.DataDir, r.cfg.QueueAlarmAge, now)
	st := r.cfg.Config()
	if rf := st.Refusal; rf != nil {
		// An unreadable document has no version to name; a fixed word
		// keeps the subject from being empty.
		subject := rf.Version
		if subject == "" {
			subject = fleetmsg.SubjectUnreadableDocument
		}
		cs = append(cs, condition{kind: fleetmsg.AlertConfigRefused, subject: subject, since: rf.At,
			message: "remote configuration refused: " + rf.Reason})
	}
	r.mu.Lock()
	alerts, raised, cleared := r.tr.update(cs, now)
	// Readiness is worth a snapshot too: the one at start usually goes
	// out before every listener is up.
	readyChanged := r.evaluated && o.Ready != r.lastReady
	r.evaluated, r.lastReady = true, o.Ready
	r.mu.Unlock()
	for _, a := range raised {
		r.cfg.Log.Warn("alert raised", "kind", a.Kind, "subject", a.Subject, "message", a.Message)
	}
	for _, a := range cleared {
		r.cfg.Log.Info("alert cleared", "kind", a.Kind, "subject", a.Subject)
	}
	return evaluation{alerts: alerts, disk: disk, config: st}, len(raised)+len(cleared) > 0 || readyChanged
}

// send delivers one snapshot. Failures are logged when they start or
// change and once when deliveries resume, so a cloud that is down for a
// day costs a handful of log lines.
func (r *Reporter) send(ctx context.Context, h fleetmsg.Health) {
	body, err := json.Marshal(h)
	if err == nil {
		err = r.cfg.Link.PutHealth(ctx, body)
	}
	if ctx.Err() != nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		if msg := err.Error(); msg != r.lastErr {
			r.cfg.Log.Warn("health snapshot not delivered; later ones are tried at their time (logged again when this changes)", "err", err)
			r.lastErr = msg
		}
		return
	}
	if r.lastErr != "" {
		r.cfg.Log.Info("health snapshots delivered again")
		r.lastErr = ""
	}
	r.sentAt = time.Now() // this box's clock, as the local status shows times
	r.sent++
}

// Delivery reports the last delivered snapshot's time, how many were
// delivered, and the current delivery error ("" when the last one went).
func (r *Reporter) Delivery() (sentAt time.Time, sent int, lastErr string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sentAt, r.sent, r.lastErr
}
