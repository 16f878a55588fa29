// Package fleetsim simulates many stores' upstream side against a cloud, in
// one process, for demos and the fleet figures: each store PUTs a signed
// health snapshot every interval (and at once when one of its alerts is
// raised or cleared), posts a trickle of ledger events, and polls its desired
// configuration with If-None-Match, verifying the reply's signature and
// checking the document as a daemon would before it reports it applied.
package fleetsim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/storebox/storebox/protocol/fleetmsg"
	"github.com/storebox/storebox/protocol/ledger"
)

// Options configure a simulation.
type Options struct {
	Cloud          string        // the cloud's base URL
	Secret         string        // the stores' upstream.secret
	Stores         int           // how many stores
	Prefix         string        // store ids are Prefix + a four-digit number (default "sim-")
	HealthInterval time.Duration // default 60s, like fleet.health_interval
	ConfigInterval time.Duration // default: HealthInterval
	EventInterval  time.Duration // one small event batch per store this often; 0: none
	AlertRate      float64       // chance per health tick that a store raises or clears an alert
	Version        string        // reported daemon version
	Timeout        time.Duration // per request (default 10s)
	Seed           uint64        // 0: random
	Logger         *slog.Logger
}

// Stats are what the simulation saw, latencies as the stores measured them.
type Stats struct {
	Stores            int     `json:"stores"`
	ElapsedS          float64 `json:"elapsed_s"`
	HealthOK          uint64  `json:"health_ok"`
	HealthFailed      uint64  `json:"health_failed"`
	HealthPerSec      float64 `json:"health_per_s"`
	HealthP50MS       float64 `json:"health_p50_ms"`
	HealthP99MS       float64 `json:"health_p99_ms"`
	HealthMaxMS       float64 `json:"health_max_ms"`
	ConfigPolls       uint64  `json:"config_polls"`
	ConfigNotModified uint64  `json:"config_not_modified"`
	ConfigApplied     uint64  `json:"config_applied"`
	ConfigRefused     uint64  `json:"config_refused"`
	ConfigFailed      uint64  `json:"config_failed"`
	EventsAcked       uint64  `json:"events_acked"`
	EventsFailed      uint64  `json:"event_batches_failed"`
	LastError         string  `json:"last_error,omitempty"`
}

func (s Stats) String() string {
	return fmt.Sprintf("%d stores, %.0f s: health %d ok (%.1f/s, p50 %.1f ms, p99 %.1f ms, max %.1f ms), %d failed; "+
		"config polls %d (%d not modified, %d applied, %d refused, %d failed); events acked %d, %d batches failed",
		s.Stores, s.ElapsedS, s.HealthOK, s.HealthPerSec, s.HealthP50MS, s.HealthP99MS, s.HealthMaxMS, s.HealthFailed,
		s.ConfigPolls, s.ConfigNotModified, s.ConfigApplied, s.ConfigRefused, s.ConfigFailed, s.EventsAcked, s.EventsFailed)
}

// Sim is a running simulation.
type Sim struct {
	opt    Options
	client *http.Client
	log    *slog.Logger

	mu      sync.Mutex
	start   time.Time
	st      Stats
	latency []time.Duration // health PUT round trips
}

const maxLatencySamples = 1 << 20

// New checks opt and prepares a simulation.
func New(opt Options) (*Sim, error) {
	if opt.Cloud == "" || (!strings.HasPrefix(opt.Cloud, "http://") && !strings.HasPrefix(opt.Cloud, "https://")) {
		return nil, fmt.Errorf("cloud URL %q must start with http:// or https://", opt.Cloud)
	}
	if opt.Secret == "" {
		return nil, errors.New("no secret: give the cloud's --secret")
	}
	if opt.Stores < 1 {
		return nil, errors.New("stores must be at least 1")
	}
	if opt.Prefix == "" {
		opt.Prefix = "sim-"
	}
	if opt.HealthInterval <= 0 {
		opt.HealthInterval = 60 * time.Second
	}
	if opt.ConfigInterval <= 0 {
		opt.ConfigInterval = opt.HealthInterval
	}
	if opt.Timeout <= 0 {
		opt.Timeout = 10 * time.Second
	}
	if opt.Version == "" {
		opt.Version = "sim"
	}
	if opt.Seed == 0 {
		opt.Seed = rand.Uint64()
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	opt.Cloud = strings.TrimRight(opt.Cloud, "/")
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: opt.Timeout}).DialContext,
		MaxIdleConns:        opt.Stores,
		MaxIdleConnsPerHost: min(opt.Stores, 512),
		IdleConnTimeout:     2 * opt.HealthInterval,
	}
	return &Sim{opt: opt, client: &http.Client{Transport: tr, Timeout: opt.Timeout}, log: opt.Logger,
		st: Stats{Stores: opt.Stores}}, nil
}

// StoreID is the id of the i-th simulated store.
func (s *Sim) StoreID(i int) string { return fmt.Sprintf("%s%04d", s.opt.Prefix, i) }

// Run simulates every store until ctx ends. Stores start spread over one
// health interval, so the cloud sees a steady rate rather than a stampede.
func (s *Sim) Run(ctx context.Context) error {
	s.mu.Lock()
	s.start = time.Now()
	s.mu.Unlock()
	var wg sync.WaitGroup
	for i := range s.opt.Stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.newStore(i).run(ctx)
		}()
	}
	wg.Wait()
	s.client.CloseIdleConnections()
	return nil
}

// Report writes the figures so far to w every d until ctx ends.
func (s *Sim) Report(ctx context.Context, d time.Duration, w io.Writer) {
	tick(ctx, d, func() { fmt.Fprintln(w, s.Stats()) })
}

// Stats returns the figures so far.
func (s *Sim) Stats() Stats {
	s.mu.Lock()
	st := s.st
	lat := slices.Clone(s.latency)
	el := time.Since(s.start)
	s.mu.Unlock()
	st.ElapsedS = el.Seconds()
	if el > 0 {
		st.HealthPerSec = float64(st.HealthOK) / el.Seconds()
	}
	if len(lat) > 0 {
		slices.Sort(lat)
		ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
		st.HealthP50MS = ms(lat[len(lat)*50/100])
		st.HealthP99MS = ms(lat[min(len(lat)-1, len(lat)*99/100)])
		st.HealthMaxMS = ms(lat[len(lat)-1])
	}
	return st
}

func (s *Sim) count(f func(*Stats)) {
	s.mu.Lock()
	f(&s.st)
	s.mu.Unlock()
}

func (s *Sim) fail(f func(*Stats), err error) {
	s.mu.Lock()
	f(&s.st)
	s.st.LastError = err.Error()
	s.mu.Unlock()
}

// eventLog is a store's outbox; it runs in its own goroutine so a slow
// event POST never delays a health snapshot.
type eventLog struct {
	st      *store
	rng     *rand.Rand
	seq     uint64
	based   bool           // seq follows the cloud's last (UPSTREAM.md §3)
	pending []ledger.Event // sent, not yet acknowledged
	depth   atomic.Int64
}

// store is one simulated store's state.
type store struct {
	sim     *Sim
	id      string
	rng     *rand.Rand
	started time.Time
	alerts  []fleetmsg.Alert
	config  fleetmsg.ConfigStatus
	// refused is the config_refused alert while a document is refused: its
	// since is when this refusal began, kept while the same one repeats.
	refused *fleetmsg.Alert
	events  eventLog
}

func (s *Sim) newStore(i int) *store {
	seed := s.opt.Seed + uint64(i)*0x9e3779b97f4a7c15
	st := &store{sim: s, id: s.StoreID(i), rng: rand.New(rand.NewPCG(seed, seed>>7|1)),
		started: time.Now(), config: fleetmsg.ConfigStatus{Source: fleetmsg.SourceFile}}
	st.events = eventLog{st: st, rng: rand.New(rand.NewPCG(seed^0x5bd1e995, seed|1))}
	return st
}

func (st *store) jitter(d time.Duration) time.Duration {
	return time.Duration(st.rng.Int64N(int64(d) + 1))
}

func (st *store) run(ctx context.Context) {
	o := st.sim.opt
	first := st.jitter(o.HealthInterval)
	health := time.NewTimer(first)
	config := time.NewTimer(first + st.jitter(min(o.ConfigInterval, time.Second)))
	if o.EventInterval > 0 {
		every := o.EventInterval + st.jitter(o.EventInterval/10)
		done := make(chan struct{})
		defer func() { <-done }()
		go func() {
			defer close(done)
			tick(ctx, every, func() { st.events.post(ctx) })
		}()
	}
	defer health.Stop()
	defer config.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-health.C:
			st.maybeFlipAlert()
			st.putHealth(ctx)
			health.Reset(o.HealthInterval)
		case <-config.C:
			if st.pollConfig(ctx) {
				st.putHealth(ctx) // the outcome goes up at once
			}
			config.Reset(o.ConfigInterval)
		}
	}
}

// maybeFlipAlert raises or clears one alert now and then, so the fleet page
// has something to move.
func (st *store) maybeFlipAlert() {
	if st.rng.Float64() >= st.sim.opt.AlertRate {
		return
	}
	if len(st.alerts) > 0 {
		st.alerts = st.alerts[:0]
		return
	}
	kinds := []fleetmsg.Alert{
		{Kind: fleetmsg.AlertScaleFault, Subject: "S1", Message: "no frame for 5 s (cable unplugged?)"},
		{Kind: fleetmsg.AlertDevicePending, Subject: fmt.Sprintf("T-%02d", st.rng.IntN(90)+10), Message: "terminal waiting for approval"},
		{Kind: fleetmsg.AlertDoorOffline, Subject: "D1", Message: "door not connected"},
	}
	// A stale queue only with something queued: the snapshot shows the
	// depth beside it.
	if st.events.depth.Load() > 0 {
		kinds = append(kinds, fleetmsg.Alert{Kind: fleetmsg.AlertQueueStale, Subject: "queue", Message: "oldest unsent event older than 15m"})
	}
	a := kinds[st.rng.IntN(len(kinds))]
	a.Since = time.Now().UTC().Truncate(time.Second)
	st.alerts = append(st.alerts, a)
}

func (st *store) snapshot() fleetmsg.Health {
	now := time.Now().UTC()
	depth := st.events.depth.Load()
	alerts := []fleetmsg.Alert{}
	for _, a := range st.alerts {
		if a.Kind == fleetmsg.AlertQueueStale && depth == 0 {
			continue // the queue drained since it was raised
		}
		alerts = append(alerts, a)
	}
	if st.refused != nil {
		alerts = append(alerts, *st.refused)
	}
	scaleState := "ok"
	for _, a := range alerts {
		if a.Kind == fleetmsg.AlertScaleFault {
			scaleState = "offline"
		}
	}
	last := now.Add(-time.Duration(st.rng.IntN(5000)) * time.Millisecond)
	return fleetmsg.Health{
		At: now, Store: st.id, Version: st.sim.opt.Version, UptimeS: int64(time.Since(st.started).Seconds()), Ready: true,
		Config: st.config,
		Devices: map[string]fleetmsg.DeviceCounts{
			"terminal": {Online: 2, Approved: 2}, "scale": {Online: 1, Approved: 1}, "label": {Online: 40 + st.rng.IntN(5), Approved: 45},
		},
		Scales: []fleetmsg.ScaleHealth{{ID: "S1", State: scaleState, LastReadingAt: &last}},
		Doors:  []fleetmsg.DoorHealth{{ID: "D1", State: "closed", Online: true}},
		Queue:  fleetmsg.QueueHealth{Depth: depth, LastSyncAt: &last},
		Disk:   fleetmsg.DiskHealth{FreeBytes: 40 << 30, FreeRatio: 0.62},
		Alerts: alerts,
	}
}

// do sends one signed request and returns the status, body and headers.
func (st *store) do(ctx context.Context, method, path string, body []byte, hdr map[string]string) (int, []byte, http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, method, st.sim.opt.Cloud+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, nil, err
	}
	if len(body) > 0 {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set(ledger.HeaderStore, st.id)
	req.Header.Set(ledger.HeaderSignature, ledger.Sign(st.sim.opt.Secret, time.Now(), ledger.SignedPayload(body, path)))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := st.sim.client.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, fleetmsg.MaxDocument+1))
	return resp.StatusCode, b, resp.Header, err
}

func (st *store) putHealth(ctx context.Context) {
	body, err := json.Marshal(st.snapshot())
	if err != nil {
		st.sim.fail(func(s *Stats) { s.HealthFailed++ }, err)
		return
	}
	t0 := time.Now()
	code, reply, _, err := st.do(ctx, http.MethodPut, "/v1/stores/"+st.id+"/health", body, nil)
	d := time.Since(t0)
	if ctx.Err() != nil {
		return
	}
	if err == nil && code/100 != 2 {
		err = fmt.Errorf("health: HTTP %d: %.200s", code, reply)
	}
	if err != nil {
		st.sim.fail(func(s *Stats) { s.HealthFailed++ }, err)
		return
	}
	st.sim.mu.Lock()
	st.sim.st.HealthOK++
	if len(st.sim.latency) < maxLatencySamples {
		st.sim.latency = append(st.sim.latency, d)
	}
	st.sim.mu.Unlock()
}

// pollConfig asks for the desired configuration; it reports whether the
// outcome (applied or refused) changed what health says.
func (st *store) pollConfig(ctx context.Context) bool {
	st.sim.count(func(s *Stats) { s.ConfigPolls++ })
	path := "/v1/stores/" + st.id + "/config"
	code, body, hdr, err := st.do(ctx, http.MethodGet, path, nil, map[string]string{"If-None-Match": fleetmsg.ETag(st.config.Version)})
	if ctx.Err() != nil {
		return false
	}
	switch {
	case err != nil:
		st.sim.fail(func(s *Stats) { s.ConfigFailed++ }, fmt.Errorf("config: %w", err))
		return false
	case code == http.StatusNotModified, code == http.StatusNotFound:
		if code == http.StatusNotModified {
			st.sim.count(func(s *Stats) { s.ConfigNotModified++ })
		}
		return st.refusalOver() // an acceptable reply, as a real store takes it
	case code != http.StatusOK:
		st.sim.fail(func(s *Stats) { s.ConfigFailed++ }, fmt.Errorf("config: HTTP %d: %.200s", code, body))
		return false
	}
	refuse := func(why string) bool {
		st.sim.count(func(s *Stats) { s.ConfigRefused++ })
		if st.config.Error == why {
			return false // the same refusal again: its since stays
		}
		st.config.Error = why
		subject := fleetmsg.SubjectUnreadableDocument
		if v := fleetmsg.StatedVersion(body); v > 0 {
			subject = strconv.FormatUint(uint64(v), 10)
		}
		st.refused = &fleetmsg.Alert{Kind: fleetmsg.AlertConfigRefused, Subject: subject, Since: time.Now().UTC(), Message: "remote configuration refused: " + why}
		return true
	}
	if err := ledger.Verify(st.sim.opt.Secret, hdr.Get(ledger.HeaderSignature), body, time.Now()); err != nil {
		return refuse("reply signature: " + err.Error())
	}
	d, _, err := fleetmsg.ParseDesired(body)
	if err != nil {
		return refuse(err.Error())
	}
	if d.Version == st.config.Version {
		return st.refusalOver()
	}
	if d.Version < st.config.Version {
		return refuse(fmt.Sprintf("version %d is older than the applied version %d", d.Version, st.config.Version))
	}
	now := time.Now().UTC()
	st.config = fleetmsg.ConfigStatus{Version: d.Version, Source: fleetmsg.SourceRemote, AppliedAt: &now}
	st.refused = nil
	st.sim.count(func(s *Stats) { s.ConfigApplied++ })
	return true
}

// refusalOver clears a refusal; it reports whether there was one.
func (st *store) refusalOver() bool {
	if st.refused == nil {
		return false
	}
	st.refused, st.config.Error = nil, ""
	return true
}

// tick calls f every d until ctx ends.
func tick(ctx context.Context, d time.Duration, f func()) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			f()
		}
	}
}

// post sends the unacknowledged events, after adding a few new sales when
// everything before was acknowledged.
func (l *eventLog) post(ctx context.Context) {
	st := l.st
	if !l.based {
		// A simulated store is a new data directory: it numbers above
		// what the cloud holds (a second run against the same cloud too),
		// and its ids carry the seq, so they stay unique.
		code, reply, _, err := st.do(ctx, http.MethodGet, "/v1/stores/"+st.id+"/events/last", nil, nil)
		if ctx.Err() != nil {
			return
		}
		var last struct {
			LastSeq uint64 `json:"last_seq"`
		}
		if err == nil && code != http.StatusOK {
			err = fmt.Errorf("events/last: HTTP %d: %.200s", code, reply)
		}
		if err == nil {
			err = json.Unmarshal(reply, &last)
		}
		if err != nil {
			st.sim.fail(func(s *Stats) { s.EventsFailed++ }, err)
			return
		}
		l.seq, l.based = last.LastSeq, true
	}
	if len(l.pending) == 0 {
		n := 1 + l.rng.IntN(3)
		for range n {
			l.seq++
			data, _ := json.Marshal(map[string]any{"oid": fmt.Sprintf("%s-o%d", st.id, l.seq), "order_id": l.seq,
				"equipId": "T-01", "status": "paid", "amount_total": 100 + l.rng.IntN(5000), "method": "cash", "lines": []any{}})
			l.pending = append(l.pending, ledger.Event{ID: fmt.Sprintf("%s-%d", st.id, l.seq), Seq: l.seq,
				Type: ledger.OrderPaid, At: time.Now().UTC(), Data: data})
		}
		l.depth.Store(int64(len(l.pending)))
	}
	b := ledger.Batch{BatchID: fmt.Sprintf("%s-b%d", st.id, l.pending[0].Seq), Events: l.pending}
	body, _ := json.Marshal(b)
	code, reply, _, err := st.do(ctx, http.MethodPost, "/v1/stores/"+st.id+"/events", body, map[string]string{ledger.HeaderIdemKey: b.BatchID})
	if ctx.Err() != nil {
		return
	}
	if err == nil && code != http.StatusOK {
		err = fmt.Errorf("events: HTTP %d: %.200s", code, reply)
	}
	var ack ledger.Ack
	if err == nil {
		err = json.Unmarshal(reply, &ack)
	}
	if err != nil {
		st.sim.fail(func(s *Stats) { s.EventsFailed++ }, err)
		return
	}
	n := 0
	for n < len(l.pending) && l.pending[n].Seq <= ack.AckedThrough {
		n++
	}
	l.pending = l.pending[n:]
	l.depth.Store(int64(len(l.pending)))
	st.sim.count(func(s *Stats) { s.EventsAcked += uint64(n) })
}
