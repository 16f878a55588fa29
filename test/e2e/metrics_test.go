package e2e

import (
	"net/http"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/storebox/storebox/test/harness"
)

func scrape(t *testing.T, d *harness.Daemon) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get("http://" + d.HTTPAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("metrics do not parse: %v", err)
	}
	return fams
}

func actionCount(fams map[string]*dto.MetricFamily, action, code string) float64 {
	f := fams["storebox_device_actions_total"]
	if f == nil {
		return 0
	}
	for _, m := range f.Metric {
		labels := map[string]string{}
		for _, l := range m.Label {
			labels[l.GetName()] = l.GetValue()
		}
		if labels["action"] == action && labels["code"] == code {
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

func TestMetricsParseAndMove(t *testing.T) {
	d := harness.New(t, "")
	d.Run("catalog", "import", sample())
	d.Start()
	before := scrape(t, d)
	for _, name := range []string{"storebox_sessions", "storebox_outbox_depth", "storebox_orders", "storebox_door_opens_total", "storebox_ready"} {
		if before[name] == nil {
			t.Errorf("metric %s missing", name)
		}
	}
	dev, _ := d.Dial("T-M")
	dev.Login(t, nil)
	for i := 0; i < 3; i++ {
		dev.Call("getGoods", map[string]any{"code": "6921168509256"})
	}
	dev.Call("getGoods", map[string]any{"code": "0000"})
	after := scrape(t, d)
	if got := actionCount(after, "getGoods", "ok") - actionCount(before, "getGoods", "ok"); got != 3 {
		t.Errorf("getGoods ok moved by %v, want 3", got)
	}
	if got := actionCount(after, "getGoods", "not_found"); got != 1 {
		t.Errorf("getGoods not_found = %v, want 1", got)
	}
	if after["storebox_device_action_seconds"] == nil {
		t.Error("no latency histogram")
	}
}
