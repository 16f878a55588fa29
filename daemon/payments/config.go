package payments

import (
	"fmt"
	"log/slog"

	"github.com/storebox/storebox/daemon/config"
	"github.com/storebox/storebox/sync/upstream"
)

// FromConfig builds the payment back ends the configuration asks for:
// payments.provider "qpay" or "test" for qr, card and atm, and store credit
// when an HTTP upstream is configured.
func FromConfig(c *config.Config, payPageBase string, log *slog.Logger) (Providers, error) {
	var p Providers
	switch c.Payments.Provider {
	case "qpay":
		cl, err := NewQPayClient(c.Payments.QPay, log)
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
