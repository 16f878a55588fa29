package statuspage

import (
	"net/http"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/storebox/storebox/test/harness"
)

// scrape fetches /metrics and parses it with the Prometheus text parser.
func scrape(t *testing.T, addr string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("/metrics: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	return fams
}

// counter returns the value of name{labels}, 0 when absent.
func counter(fams map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	f := fams[name]
	if f == nil {
		return 0
	}
next:
	for _, m := range f.Metric {
		have := map[string]string{}
		for _, l := range m.Label {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range labels {
			if have[k] != v {
				continue next
			}
		}
		if m.Counter != nil {
			return m.Counter.GetValue()
		}
		if m.Gauge != nil {
			return m.Gauge.GetValue()
		}
	}
	return 0
}

func TestMetricsMoveWithActions(t *testing.T) {
	d := harness.New(t, "")
	d.Start()
	fams := scrape(t, d.HTTPAddr)
	for _, name := range []string{"storebox_connections", "storebox_sessions", "storebox_outbox_depth", "storebox_goods", "go_goroutines", "process_cpu_seconds_total"} {
		if fams[name] == nil {
			t.Errorf("/metrics lacks %s", name)
		}
	}
	miss := map[string]string{"action": "getGoods", "code": "not_found"}
	before := counter(fams, "storebox_device_actions_total", miss)

	dev, err := d.Dial("T-MET")
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	dev.Login(t, map[string]any{"kind": "terminal"})
	for i := 0; i < 3; i++ {
		r, err := dev.Call("getGoods", map[string]any{"code": "0000000000000"})
		if err != nil || r.Code() != "not_found" {
			t.Fatalf("getGoods: %v %s", err, r.Raw)
		}
	}
	fams = scrape(t, d.HTTPAddr)
	if got := counter(fams, "storebox_device_actions_total", miss); got != before+3 {
		t.Errorf("storebox_device_actions_total{getGoods,not_found} = %v, want %v", got, before+3)
	}
	if got := counter(fams, "storebox_device_actions_total", map[string]string{"action": "login", "code": "ok"}); got < 1 {
		t.Errorf("login not counted: %v", got)
	}
	if got := counter(fams, "storebox_sessions", map[string]string{"kind": "terminal"}); got != 1 {
		t.Errorf("storebox_sessions{terminal} = %v, want 1", got)
	}
}
