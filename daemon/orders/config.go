package orders

import (
	"time"

	"github.com/storebox/storebox/daemon/config"
	"github.com/storebox/storebox/protocol/receipt"
)

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
		Receipt:      ReceiptConfigFrom(c),
	}
}

// ReceiptConfigFrom is the [receipt] section as the receipts use it.
func ReceiptConfigFrom(c *config.Config) ReceiptConfig {
	name := c.Receipt.StoreName
	if name == "" {
		name = c.StoreName
	}
	loc := time.Local
	if c.Receipt.Timezone != "" {
		if l, err := time.LoadLocation(c.Receipt.Timezone); err == nil { // validated at load
			loc = l
		}
	}
	return ReceiptConfig{StoreName: name, Layout: receipt.Layout{Width: c.Receipt.Width, Header: c.Receipt.Header,
		Footer: c.Receipt.Footer, Decimals: c.Receipt.Decimals, Location: loc}}
}
