// Package payments collects the money for orders through the payment
// providers (UPSTREAM.md §6): the Provider contract, the SinoPac QPay adapter, the
// install-day test provider and its pay page, store credit upstream, and
// the relayed payment notify, and the Collector that makes every provider
// and cloud call. It keeps no order state: daemon/orders owns the orders,
// their attempts and what is on disk (the Orders interface), and the
// Collector asks a provider again whenever it needs to know.
//
// Payment methods:
//   - cash, card_offline: makePayment with the exact amount_total; no
//     provider.
//   - credit: store credit upstream. getPayInfo authorizes the amount; a
//     granted hold pays the order at once (the hold is the guarantee) and
//     the capture follows in the background, retried until the cloud
//     answers. A cancelled or expired order's hold is released.
//   - qr, card, atm: the configured provider (QPay or the test provider).
//     qr and card create a QPay card order (the QR encodes its pay URL), atm
//     a virtual account. The provider's order number is oid + "-" + attempt,
//     written to disk before the first send, so a retry asks about the same
//     order and never creates a second charge. Outcomes come from polling
//     (capped backoff) and from a notify relayed by the cloud, which is only
//     a hint: the provider is always asked.
package payments

import (
	"context"
	"errors"
	"time"
)

// Provider collects qr, card and atm payments (QPay, or the test provider).
// Implementations hold no order state of their own that matters: the
// service keeps the attempt and its reference on disk and asks again.
type Provider interface {
	// Name is "qpay", "test", ….
	Name() string
	// TestMode is true for a provider that moves no money.
	TestMode() bool
	// Create opens a payment for ref. Creating the same ref again must not
	// create a second charge (the provider dedupes by ref, or the caller
	// has queried first). An error wrapping ErrUnavailable is ambiguous:
	// the payment may exist.
	Create(ctx context.Context, r CreateRequest) (Created, error)
	// Query reports what the provider knows about ref.
	Query(ctx context.Context, ref string) (Report, error)
	// QueryToken reports the payment a relayed notify's token names.
	QueryToken(ctx context.Context, token string) (Report, error)
}

// CreateRequest asks a provider for a payment.
type CreateRequest struct {
	Ref     string // provider order number: oid-attempt
	OID     string
	Amount  int64
	Method  string // qr, card or atm
	Product string
}

// Created is where the customer pays.
type Created struct {
	URL      string // pay page or QR payload
	AtmPayNo string // virtual account (atm)
}

// Report is a provider's word on one payment. It proves a payment only
// through Proves, which the order service checks against its own order.
type Report struct {
	Found  bool
	Ref    string
	Amount int64
	Status string // "S" paid, "F" failed, anything else: not final
	Detail string
}

// Payment statuses a Report may carry.
const (
	ReportPaid   = "S"
	ReportFailed = "F"
)

// Proves reports whether r shows ref paid for exactly amount: the only
// test for "paid".
func (r Report) Proves(ref string, amount int64) bool {
	return r.Found && ref != "" && r.Status == ReportPaid && r.Ref == ref && r.Amount == amount
}

// Failed reports whether r shows ref failed.
func (r Report) Failed(ref string) bool {
	return r.Found && ref != "" && r.Status == ReportFailed && r.Ref == ref
}

// ErrUnavailable marks a provider or cloud failure worth retrying; the
// outcome of the call is unknown.
var ErrUnavailable = errors.New("payment service unavailable")

// Credit is store credit upstream (UPSTREAM.md §5); *upstream.Client implements it.
type Credit interface {
	Authorize(ctx context.Context, accountToken string, amount int64, orderID string, ttl time.Duration) (string, error)
	Capture(ctx context.Context, txToken string, amount int64) error
	Cancel(ctx context.Context, txToken string) error
}

// Providers are the payment back ends; either may be nil (that method is
// then unavailable).
type Providers struct {
	Payment Provider
	Credit  Credit
}
