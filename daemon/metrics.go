package daemon

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics is the daemon's own Prometheus registry (no global state).
type metrics struct {
	reg     *prometheus.Registry
	actions *prometheus.CounterVec
	latency *prometheus.HistogramVec
}

func newMetrics() *metrics {
	m := &metrics{
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

func (m *metrics) observeAction(action, code string, d time.Duration) {
	if code == "" {
		code = "ok"
	}
	m.actions.WithLabelValues(action, code).Inc()
	m.latency.WithLabelValues(action).Observe(d.Seconds())
}

// handler adds gauges read from the daemon at scrape time.
func (m *metrics) handler(d *Daemon) http.Handler {
	sessions := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "storebox_connections", Help: "Open device connections."}, func() float64 {
		_, n := d.Devices.Counts()
		return float64(n)
	})
	byKind := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "storebox_sessions", Help: "Logged-in device sessions by kind."}, []string{"kind"})
	depth := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "storebox_outbox_depth", Help: "Ledger events waiting for upload."}, func() float64 {
		q, _ := d.Store.QueueStats()
		return float64(q.Depth)
	})
	goodsN := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "storebox_goods", Help: "Goods in the catalog."}, func() float64 { return float64(d.Store.GoodsCount()) })
	m.reg.MustRegister(sessions, byKind, depth, goodsN)
	inner := promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		counts, _ := d.Devices.Counts()
		byKind.Reset()
		for _, k := range []string{"terminal", "scale", "label", "door"} {
			byKind.WithLabelValues(k).Set(float64(counts[k]))
		}
		inner.ServeHTTP(w, r)
	})
}
