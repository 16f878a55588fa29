package orders

import (
	"testing"
	"time"

	"github.com/storebox/storebox/daemon/config"
)

func TestFromConfig(t *testing.T) {
	c, err := config.Parse("storebox.toml", []byte(`
[orders]
payment_ttl = "90s"
[payments]
provider = "test"
[upstream]
url = "http://cloud.example"
secret = "s"
`))
	if err != nil {
		t.Fatal(err)
	}
	cfg := ConfigFrom(c, "http://10.0.0.2:8680")
	if cfg.TTL != 90*time.Second || cfg.NotifySecret != "s" || cfg.PollInterval != 2*time.Second || cfg.Warehouse != "main" {
		t.Fatalf("%+v", cfg)
	}
	p, err := ProvidersFrom(c, cfg.PayPageBase, nil)
	if err != nil || p.Credit == nil || p.Payment == nil || !p.Payment.TestMode() {
		t.Fatalf("%+v %v", p, err)
	}
	c.Payments.Provider = "qpay"
	c.Payments.QPay.BaseURL = "http://bank.example/api"
	c.Payments.QPay.ShopNo = shopNo
	c.Payments.QPay.A1, c.Payments.QPay.A2, c.Payments.QPay.B1, c.Payments.QPay.B2 = a1, a2, b1, b2
	if p, err := ProvidersFrom(c, "", nil); err != nil || p.Payment.Name() != "qpay" || p.Payment.TestMode() {
		t.Fatalf("qpay: %+v %v", p, err)
	}
	c.Payments.QPay.A1 = "zz"
	if _, err := ProvidersFrom(c, "", nil); err == nil {
		t.Fatal("bad key accepted")
	}
	c.Payments.Provider, c.Upstream.URL = "", ""
	if p, _ := ProvidersFrom(c, "", nil); p.Payment != nil || p.Credit != nil {
		t.Fatalf("nothing configured: %+v", p)
	}
}
