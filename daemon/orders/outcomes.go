package orders

import (
	"fmt"
	"time"

	"github.com/storebox/storebox/daemon/orders/internal/orderdb"
	"github.com/storebox/storebox/daemon/payments"
	"github.com/storebox/storebox/daemon/store"
	"github.com/storebox/storebox/protocol/ledger"
	"github.com/storebox/storebox/protocol/ordermsg"
)

// update re-reads an order inside a write transaction and lets fn change it.
func (s *Service) update(oid string, fn func(t *store.Tx, old *ordermsg.Order) (*ordermsg.Order, error)) (*ordermsg.Order, error) {
	var out *ordermsg.Order
	err := s.commit(func(t *store.Tx) error {
		out = nil
		old, err := orderdb.Load(t.Tx, oid)
		if err != nil {
			return err
		}
		if old == nil {
			return fmt.Errorf("order %s is missing", oid)
		}
		out, err = fn(t, old)
		return err
	})
	return out, err
}

func (s *Service) load(oid string) (*ordermsg.Order, error) {
	o, ok, err := s.get(oid)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("order %s is missing", oid)
	}
	return &o, nil
}

// Lock implements payments.Orders.
func (s outcomes) Lock(oid string) func() { return s.lock(oid) }

// Load implements payments.Orders.
func (s outcomes) Load(oid string) (*ordermsg.Order, error) { return s.load(oid) }

// Kick implements payments.Orders.
func (s outcomes) Kick(oid string, after time.Duration) { s.sched.Kick(oid, after) }

// outcomes is the order service as payments sees it: the stored order,
// the per-order lock and one method per payment outcome. It keeps these
// off Service's own API, which is for the daemon.
type outcomes struct{ *Service }

var (
	_ payments.Orders         = outcomes{}
	_ payments.NotifyRecorder = outcomes{}
	_ payments.PayPageOrders  = outcomes{}
)

// Opened implements payments.Orders.
func (s outcomes) Opened(oid string, n int, c payments.Created) (*ordermsg.Order, error) {
	return s.update(oid, func(t *store.Tx, old *ordermsg.Order) (*ordermsg.Order, error) {
		at := old.Attempt(n)
		if at.URL == c.URL && at.AtmPayNo == c.AtmPayNo && at.State != ordermsg.AttemptSending {
			return old, nil
		}
		next := old.Clone()
		at = next.Attempt(n)
		at.URL, at.AtmPayNo = c.URL, c.AtmPayNo
		if at.State == ordermsg.AttemptSending {
			at.State = ordermsg.AttemptOpen
		}
		return next, saveOrder(t, old, next, s.Service)
	})
}

// Reported implements payments.Orders.
func (s outcomes) Reported(oid string, n int, r payments.Report) (*ordermsg.Order, error) {
	return s.update(oid, func(t *store.Tx, old *ordermsg.Order) (*ordermsg.Order, error) {
		return s.applyReport(t, old, n, r, s.now())
	})
}

// Reissued implements payments.Orders: unless r shows attempt n paid, a
// new attempt with a new number replaces it (the old one is still asked
// about).
func (s outcomes) Reissued(oid string, n int, r payments.Report) (*ordermsg.Order, error) {
	return s.update(oid, func(t *store.Tx, old *ordermsg.Order) (*ordermsg.Order, error) {
		cur, err := s.applyReport(t, old, n, r, s.now())
		if err != nil || cur.Status != ordermsg.StatusPending || cur.LastAttempt().N != n {
			return cur, err
		}
		next := cur.Clone()
		at := next.Attempt(n)
		if at.State == ordermsg.AttemptSending || at.State == ordermsg.AttemptOpen {
			at.State = ordermsg.AttemptSuperseded
		}
		na := s.newAttempt(next, ordermsg.PayRequest{PayMethod: at.Method}, s.now())
		if err := event(t, ledger.PaymentCreated, next, na, "re-issued: the earlier pay link was lost"); err != nil {
			return nil, err
		}
		return next, saveOrder(t, cur, next, s.Service)
	})
}

// Failed implements payments.Orders.
func (s outcomes) Failed(oid string, n int, why string, released bool) (*ordermsg.Order, error) {
	return s.update(oid, func(t *store.Tx, old *ordermsg.Order) (*ordermsg.Order, error) {
		cur, err := s.markFailed(t, old, n, why, s.now())
		if err != nil || !released {
			return cur, err
		}
		next := cur.Clone()
		next.Attempt(n).Released = true
		return next, saveOrder(t, cur, next, s.Service)
	})
}

// Held implements payments.Orders. A hold granted after the order closed
// fails its attempt (and is released).
func (s outcomes) Held(oid string, n int, token string) (*ordermsg.Order, error) {
	return s.update(oid, func(t *store.Tx, old *ordermsg.Order) (*ordermsg.Order, error) {
		at := old.Attempt(n)
		if at.State != ordermsg.AttemptSending {
			return old, nil
		}
		next := old.Clone()
		at = next.Attempt(n)
		at.Token = token
		if old.Status != ordermsg.StatusPending {
			at.State, at.Error = ordermsg.AttemptFailed, "the order closed before the hold was granted"
			return next, saveOrder(t, old, next, s.Service)
		}
		if err := saveOrder(t, old, next, s.Service); err != nil {
			return nil, err
		}
		return s.markPaid(t, next, n, s.now())
	})
}

// Captured implements payments.Orders. A refused capture is flagged: the
// goods were handed over.
func (s outcomes) Captured(oid string, n int, refusal error) error {
	_, err := s.update(oid, func(t *store.Tx, old *ordermsg.Order) (*ordermsg.Order, error) {
		next := old.Clone()
		at := next.Attempt(n)
		at.Settled = true
		if refusal != nil {
			at.Error = "capture refused: " + refusal.Error()
			reason := "the credit capture was refused (" + refusal.Error() + "); the goods were handed over without the credit being taken"
			next.Flag(reason, s.now())
			if err := event(t, ledger.OrderReview, next, at, reason); err != nil {
				return nil, err
			}
		}
		return next, saveOrder(t, old, next, s.Service)
	})
	return err
}

// Released implements payments.Orders. A hold captured although the order
// did not take it is flagged.
func (s outcomes) Released(oid string, n int, refusal error, captured bool) error {
	_, err := s.update(oid, func(t *store.Tx, old *ordermsg.Order) (*ordermsg.Order, error) {
		next := old.Clone()
		at := next.Attempt(n)
		at.Released = true
		if refusal != nil {
			at.Error = "release refused: " + refusal.Error()
			if captured {
				reason := "a credit hold of this order was captured although the order is " + old.Status + ": " + refusal.Error()
				next.Flag(reason, s.now())
				if err := event(t, ledger.OrderReview, next, at, reason); err != nil {
					return nil, err
				}
			}
		}
		return next, saveOrder(t, old, next, s.Service)
	})
	return err
}

// applyReport records what a provider said about attempt n. Only a report
// that proves the payment (status S, same order number, same amount) pays;
// a success for another amount is flagged, never booked.
func (s *Service) applyReport(t *store.Tx, old *ordermsg.Order, n int, r payments.Report, now time.Time) (*ordermsg.Order, error) {
	a := old.Attempt(n)
	if a == nil {
		return old, nil
	}
	switch {
	case r.Proves(a.Ref, old.AmountTotal):
		return s.markPaid(t, old, n, now)
	case r.Failed(a.Ref):
		return s.markFailed(t, old, n, "provider reports failure: "+r.Detail, now)
	case r.Found && r.Ref == a.Ref && r.Status == payments.ReportPaid:
		if a.Flagged {
			return old, nil
		}
		o := old.Clone()
		o.Attempt(n).Flagged = true
		reason := fmt.Sprintf("provider reports attempt %d (%s) paid with amount %d, but the order's total is %d; not booked", n, a.Ref, r.Amount, old.AmountTotal)
		o.Flag(reason, now)
		if err := event(t, ledger.OrderReview, o, o.Attempt(n), reason); err != nil {
			return nil, err
		}
		return o, saveOrder(t, old, o, s)
	case r.Found && r.Ref == a.Ref && a.State == ordermsg.AttemptSending:
		o := old.Clone()
		o.Attempt(n).State = ordermsg.AttemptOpen
		return o, saveOrder(t, old, o, s)
	}
	return old, nil
}
