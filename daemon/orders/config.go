package orders

import "github.com/storebox/storebox/daemon/config"

// ConfigFrom maps the daemon's configuration onto the service's.
// payPageBase is the local HTTP server as devices reach it
// ("http://192.168.1.10:8680"), used for the test provider's pay links.
func ConfigFrom(c *config.Config, payPageBase string) Config {
	return Config{
		TTL:          c.Orders.PaymentTTL.Duration,
		Warehouse:    c.Warehouse,
		StoreID:      c.StoreID,
		PollInterval: c.Payments.QPay.PollInterval.Duration,
		PollMax:      c.Payments.QPay.PollMax.Duration,
		NotifySecret: c.Upstream.Secret,
		PayPageBase:  payPageBase,
		Retention:    c.Orders.Retention.Duration,
		Acknowledged: c.Upstream.URL != "" || c.Upstream.Kind == "nats",
	}
}
