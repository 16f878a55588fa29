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
}
