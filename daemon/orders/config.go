package orders

import (
	"fmt"
	"log/slog"

	"github.com/storebox/storebox/daemon/config"
	"github.com/storebox/storebox/sync/qpay"
	"github.com/storebox/storebox/sync/upstream"
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
	}
}

// ProvidersFrom builds the payment back ends the configuration asks for:
// payments.provider "qpay" or "test" for qr, card and atm, and store credit
// when an HTTP upstream is configured.
func ProvidersFrom(c *config.Config, payPageBase string, log *slog.Logger) (Providers, error) {
	var p Providers
	switch c.Payments.Provider {
	case "qpay":
		cl, err := qpay.NewFromConfig(c.Payments.QPay, log)
		if err != nil {
			return Providers{}, fmt.Errorf("payments.qpay: %w", err)
		}
		p.Payment = NewQPay(cl)
	case "test":
		p.Payment = NewTestProvider(payPageBase)
	}
	if c.Upstream.URL != "" && (c.Upstream.Kind == "" || c.Upstream.Kind == "http") {
		p.Credit = upstream.New(c.Upstream.URL, c.StoreID, c.Upstream.Secret, c.Upstream.Timeout.Duration)
	}
	return p, nil
}
