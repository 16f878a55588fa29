package httpapi

import (
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics is the daemon's own Prometheus registry (no global state). It
// exists before the parts it reads, as the device server reports each
// request to it (devices.Observer).
type Metrics struct {
	reg     *prometheus.Registry
	actions *prometheus.CounterVec
	latency *prometheus.HistogramVec
	// byAction caches the children per action and code: resolving label
	// values hashes them, and this runs on every device request.
	byAction sync.Map // action+"\x00"+code → actionMetrics
}

type actionMetrics struct {
	count   prometheus.Counter
	latency prometheus.Observer
}

// NewMetrics returns the registry with the request counters.
func NewMetrics() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		actions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "storebox_device_actions_total", Help: "Device requests answered, by action and error code (\"ok\" on success).",
		}, []string{"action", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "storebox_device_action_seconds", Help: "Time to answer a device request.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1},
		}, []string{"action"}),
	}
	m.reg.MustRegister(m.actions, m.latency, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// ObserveAction counts a device request and its answer time.
func (m *Metrics) ObserveAction(action, code string, d time.Duration) {
	if code == "" {
		code = "ok"
	}
	key := action + "\x00" + code
	v, ok := m.byAction.Load(key)
	if !ok {
		v, _ = m.byAction.LoadOrStore(key, actionMetrics{m.actions.WithLabelValues(action, code), m.latency.WithLabelValues(action)})
	}
	am := v.(actionMetrics)
	am.count.Inc()
	am.latency.Observe(d.Seconds())
}

// handler serves the registry plus what is read from the components at
// scrape time.
func (m *Metrics) handler(p Parts) http.Handler {
	m.reg.MustRegister(&stateCollector{p: p})
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// stateCollector reads component state at scrape time, so nothing is
// updated on the hot path and nothing can drift from the source.
type stateCollector struct{ p Parts }

var (
	descConns       = prometheus.NewDesc("storebox_connections", "Open device connections.", nil, nil)
	descSessions    = prometheus.NewDesc("storebox_sessions", "Logged-in device sessions by kind.", []string{"kind"}, nil)
	descGoods       = prometheus.NewDesc("storebox_goods", "Goods in the catalog.", nil, nil)
	descDepth       = prometheus.NewDesc("storebox_outbox_depth", "Ledger events waiting for upload.", nil, nil)
	descOldest      = prometheus.NewDesc("storebox_outbox_oldest_age_seconds", "Age of the oldest unsent ledger event.", nil, nil)
	descDead        = prometheus.NewDesc("storebox_outbox_dead_letters", "Events the cloud refused, kept for review.", nil, nil)
	descSyncUp      = prometheus.NewDesc("storebox_sync_online", "1 when the last upload or ping succeeded.", nil, nil)
	descSyncErrAt   = prometheus.NewDesc("storebox_sync_last_error_timestamp_seconds", "When the last upload error happened (0: none).", nil, nil)
	descOrders      = prometheus.NewDesc("storebox_orders", "Orders by state.", []string{"state"}, nil)
	descDoorOpens   = prometheus.NewDesc("storebox_door_opens_total", "Door decisions and openings by outcome.", []string{"outcome"}, nil)
	descDoorsOnline = prometheus.NewDesc("storebox_doors_online", "Doors connected to the broker.", nil, nil)
	descScaleErrs   = prometheus.NewDesc("storebox_scale_read_errors_total", "Garbage, partial, checksum-failed frames and missed polls by scale.", []string{"scale"}, nil)
	descReady       = prometheus.NewDesc("storebox_ready", "1 when every listener is up.", nil, nil)
	descPrintQueue  = prometheus.NewDesc("storebox_printer_queue", "Print jobs waiting for a receipt printer.", []string{"printer"}, nil)
	descPrintFault  = prometheus.NewDesc("storebox_printer_fault", "1 while a receipt printer is in fault (paper end, cover open, error, unreachable).", []string{"printer", "state"}, nil)
	descPrinted     = prometheus.NewDesc("storebox_printer_printed_total", "Jobs a receipt printer acknowledged since the daemon started.", []string{"printer"}, nil)
)

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descConns, descSessions, descGoods, descDepth, descOldest, descDead, descSyncUp, descSyncErrAt, descOrders, descDoorOpens, descDoorsOnline, descScaleErrs, descReady, descPrintQueue, descPrintFault, descPrinted} {
		ch <- d
	}
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	p := c.p
	gauge := func(desc *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, v, labels...)
	}
	counter := func(desc *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.CounterValue, v, labels...)
	}
	ready := 0.0
	if p.Ready() {
		ready = 1
	}
	gauge(descReady, ready)
	byKind, conns := p.Devices.Counts()
	gauge(descConns, float64(conns))
	for _, k := range []string{"terminal", "scale", "label", "door"} {
		gauge(descSessions, float64(byKind[k]), k)
	}
	gauge(descGoods, float64(p.Store.GoodsCount()))
	if q, err := p.Outbox.QueueStats(); err == nil {
		gauge(descDepth, float64(q.Depth))
		gauge(descDead, float64(q.DeadLetters))
		age := 0.0
		if !q.Oldest.IsZero() {
			age = time.Since(q.Oldest).Seconds()
		}
		gauge(descOldest, age)
	}
	if p.Uploader != nil {
		u := p.Uploader.Status()
		up := 0.0
		if u.Online {
			up = 1
		}
		gauge(descSyncUp, up)
		errAt := 0.0
		if !u.LastErrorAt.IsZero() {
			errAt = float64(u.LastErrorAt.Unix())
		}
		gauge(descSyncErrAt, errAt)
	}
	if p.Printers != nil {
		for _, ps := range p.Printers.States() {
			fault := 0.0
			if ps.Fault {
				fault = 1
			}
			gauge(descPrintQueue, float64(ps.Queued), ps.ID)
			gauge(descPrintFault, fault, ps.ID, ps.State)
			counter(descPrinted, float64(ps.Printed), ps.ID)
		}
	}
	if p.Orders != nil {
		for state, n := range p.Orders.Counts() {
			gauge(descOrders, float64(n), state)
		}
	}
	if p.Doors != nil {
		st := p.Doors.Stats()
		counter(descDoorOpens, float64(st.Opened), "opened")
		counter(descDoorOpens, float64(st.Denied), "denied")
		counter(descDoorOpens, float64(st.OpenFailed), "open_failed")
		gauge(descDoorsOnline, float64(st.DoorsOnline))
	}
	if p.Scales != nil {
		for id, n := range p.Scales.ReadErrors() {
			counter(descScaleErrs, float64(n), id)
		}
	}
}
