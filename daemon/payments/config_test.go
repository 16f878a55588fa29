package payments

import (
	"testing"

	"github.com/storebox/storebox/daemon/config"
)

// The shop keys of the bank's published sample.
const (
	shopNo = "BA0026_001"
	a1, a2 = "4D9709D699CA40EE", "5A4FEF83140C4E9E"
	b1, b2 = "BC74301945134CB4", "961F67F8FCA44AB9"
)

func TestFromConfig(t *testing.T) {
	c, err := config.Parse("storebox.toml", []byte(`
[payments]
provider = "test"
[upstream]
url = "http://cloud.example"
secret = "s"
`))
	if err != nil {
		t.Fatal(err)
	}
	p, err := FromConfig(c, "http://10.0.0.2:8680", nil)
	if err != nil || p.Credit == nil || p.Payment == nil || !p.Payment.TestMode() {
		t.Fatalf("%+v %v", p, err)
	}
	c.Payments.Provider = "qpay"
	c.Payments.QPay.BaseURL = "http://bank.example/api"
	c.Payments.QPay.ShopNo = shopNo
	c.Payments.QPay.A1, c.Payments.QPay.A2, c.Payments.QPay.B1, c.Payments.QPay.B2 = a1, a2, b1, b2
	if p, err := FromConfig(c, "", nil); err != nil || p.Payment.Name() != "qpay" || p.Payment.TestMode() {
		t.Fatalf("qpay: %+v %v", p, err)
	}
	c.Payments.QPay.A1 = "zz"
	if _, err := FromConfig(c, "", nil); err == nil {
		t.Fatal("bad key accepted")
	}
	c.Payments.Provider, c.Upstream.URL = "", ""
	if p, _ := FromConfig(c, "", nil); p.Payment != nil || p.Credit != nil {
		t.Fatalf("nothing configured: %+v", p)
	}
}
