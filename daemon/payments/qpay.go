package payments

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/storebox/storebox/daemon/config"
	"github.com/storebox/storebox/sync/qpay"
)

// QPay is the SinoPac QPay provider. qr and card become card orders (the
// QR code encodes the card pay URL), atm a virtual account. Amounts are
// passed as they are: the store's minor unit is the bank's TWD×100.
type QPay struct {
	c *qpay.Client
	// Now dates what goes to the bank (an ATM payment's expiry date): the
	// cloud's time as this box knows it, which a bank's clock agrees with
	// better than a box that lost its time (UPSTREAM.md §6). Nil: this
	// box's clock. Set before the first payment.
	Now func() time.Time
}

// NewQPay wraps a QPay client.
func NewQPay(c *qpay.Client) *QPay { return &QPay{c: c} }

// NewQPayClient builds a QPay client from the daemon's [payments.qpay]
// section.
func NewQPayClient(q config.QPay, log *slog.Logger) (*qpay.Client, error) {
	return qpay.New(qpay.Config{
		BaseURL: q.BaseURL, ShopNo: q.ShopNo, A1: q.A1, A2: q.A2, B1: q.B1, B2: q.B2,
		ReturnURL: q.ReturnURL, BackendURL: q.BackendURL,
		PollInterval: q.PollInterval.Duration, PollMax: q.PollMax.Duration,
		Logger: log,
	})
}

// Name implements Provider.
func (*QPay) Name() string { return "qpay" }

// TestMode implements Provider.
func (*QPay) TestMode() bool { return false }

// classify keeps "we learnt nothing" apart from "the bank said no": an
// unreachable bank and a reply that fails decryption or Sign are both
// unknown outcomes, retried and never acted on.
func classify(op string, err error) error {
	if qpay.Retryable(err) || errors.Is(err, qpay.ErrUntrusted) {
		return fmt.Errorf("qpay %s: %w: %w", op, ErrUnavailable, err)
	}
	return fmt.Errorf("qpay %s: %w", op, err)
}

// Create implements Provider.
func (q *QPay) Create(ctx context.Context, r CreateRequest) (Created, error) {
	pt := "C"
	if r.Method == "atm" {
		pt = "A"
	}
	req := qpay.CreateRequest{OrderNo: r.Ref, Amount: r.Amount, PayType: pt, ProductName: r.Product}
	if pt == "A" && q.Now != nil {
		req.ATMExpireDate = qpay.ATMExpireDateAfter(q.Now())
	}
	res, err := q.c.CreateOrder(ctx, req)
	if err != nil {
		return Created{}, classify("create "+r.Ref, err)
	}
	return Created{URL: res.PayURL, AtmPayNo: res.AtmPayNo}, nil
}

func report(t qpay.Transaction) Report {
	return Report{Found: t.Found && t.OrderNo != "", Ref: t.OrderNo, Amount: t.Amount, Status: t.Status, Detail: t.Description}
}

// Query implements Provider (OrderQuery).
func (q *QPay) Query(ctx context.Context, ref string) (Report, error) {
	t, err := q.c.QueryOrder(ctx, ref)
	if err != nil {
		return Report{}, classify("query "+ref, err)
	}
	return report(t), nil
}

// QueryToken implements Provider (OrderPayQuery).
func (q *QPay) QueryToken(ctx context.Context, token string) (Report, error) {
	t, err := q.c.QueryPayToken(ctx, token)
	if err != nil {
		return Report{}, classify("pay query", err)
	}
	return report(t), nil
}
