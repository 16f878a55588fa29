package orders

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/storebox/storebox/daemon/payments"
	"github.com/storebox/storebox/daemon/store"
	"github.com/storebox/storebox/protocol/devmsg"
	"github.com/storebox/storebox/protocol/ledger"
	"github.com/storebox/storebox/protocol/ordermsg"
	"github.com/storebox/storebox/sync/upstream"
)

// update re-reads an order inside a write transaction and lets fn change it.
func (s *Service) update(oid string, fn func(t *store.Tx, old *ordermsg.Order) (*ordermsg.Order, error)) (*ordermsg.Order, error) {
	var out *ordermsg.Order
	err := s.commit(func(t *store.Tx) error {
		out = nil
		old, err := loadOrder(t.Tx, oid)
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

// drive makes the network call the order's newest attempt is waiting for:
// a credit authorization or a provider payment. fresh says the attempt was
// written by this very request, so the provider cannot know it yet.
func (s *Service) drive(ctx context.Context, oid string, fresh bool) (*ordermsg.Order, error) {
	unlock := s.lock(oid)
	defer unlock()
	o, err := s.load(oid)
	if err != nil {
		return nil, internal("getPayInfo", err)
	}
	a := o.LastAttempt()
	if o.Status != ordermsg.StatusPending || a == nil || a.State != ordermsg.AttemptSending {
		return o, nil
	}
	if a.Provider == providerCredit {
		return s.authorize(ctx, o, a.N)
	}
	return s.create(ctx, o, a.N, fresh)
}

func productName(o *ordermsg.Order) string {
	name := o.Lines[0].Name
	if name == "" {
		name = o.Lines[0].GID
	}
	if len(o.Lines) > 1 {
		name = fmt.Sprintf("%s +%d", name, len(o.Lines)-1)
	}
	for utf8.RuneCountInString(name) > 60 {
		r := []rune(name)
		name = string(r[:60])
	}
	return name
}

func providerDown(err error) *devmsg.Error {
	return devmsg.Errorf(devmsg.CodeOffline, "the payment provider cannot be reached (%v); ask again in a moment or pay another way", err)
}

// create sends attempt n to the provider. A retry (not fresh) asks the
// provider first: a payment it already has is never created twice.
func (s *Service) create(ctx context.Context, o *ordermsg.Order, n int, fresh bool) (*ordermsg.Order, error) {
	a := o.Attempt(n)
	if !fresh {
		r, err := s.pay.Query(ctx, a.Ref)
		if err != nil {
			return o, providerDown(err)
		}
		if r.Found {
			// An earlier send reached the provider but its reply (and the
			// pay link) was lost. If it is not paid, start a new attempt
			// with a new number; the old one is still watched.
			o2, err := s.update(o.OID, func(t *store.Tx, old *ordermsg.Order) (*ordermsg.Order, error) {
				cur, err := s.applyReport(t, old, n, r, s.now())
				if err != nil || cur.Status != ordermsg.StatusPending || cur.LastAttempt().N != n {
					return cur, err
				}
				next := cur.Clone()
				if at := next.Attempt(n); at.State == ordermsg.AttemptSending || at.State == ordermsg.AttemptOpen {
					at.State = ordermsg.AttemptSuperseded
				}
				na := s.newAttempt(next, ordermsg.PayRequest{PayMethod: a.Method}, s.now())
				if err := event(t, ledger.PaymentCreated, next, na, "re-issued: the earlier pay link was lost"); err != nil {
					return nil, err
				}
				return next, saveOrder(t, cur, next, s)
			})
			if err != nil {
				return o, internal("getPayInfo", err)
			}
			if la := o2.LastAttempt(); o2.Status == ordermsg.StatusPending && la.N != n && la.State == ordermsg.AttemptSending {
				return s.create(ctx, o2, la.N, true)
			}
			return o2, nil
		}
	}
	res, err := s.pay.Create(ctx, payments.CreateRequest{Ref: a.Ref, OID: o.OID, Amount: o.AmountTotal, Method: a.Method, Product: productName(o)})
	if err != nil {
		if errors.Is(err, payments.ErrUnavailable) || ctx.Err() != nil {
			// Unknown outcome: the attempt stays "sending"; polling and the
			// terminal's retry find out.
			s.sched.kick(o.OID, 0)
			return o, providerDown(err)
		}
		o2, uerr := s.update(o.OID, func(t *store.Tx, old *ordermsg.Order) (*ordermsg.Order, error) {
			return s.markFailed(t, old, n, "provider refused: "+err.Error(), s.now())
		})
		if uerr != nil {
			return o, internal("getPayInfo", uerr)
		}
		return o2, devmsg.Errorf(devmsg.CodeInternal, "the payment provider refused the payment (%v); pay another way", err)
	}
	o2, err := s.update(o.OID, func(t *store.Tx, old *ordermsg.Order) (*ordermsg.Order, error) {
		at := old.Attempt(n)
		if at.URL == res.URL && at.AtmPayNo == res.AtmPayNo && at.State != ordermsg.AttemptSending {
			return old, nil
		}
		next := old.Clone()
		at = next.Attempt(n)
		at.URL, at.AtmPayNo = res.URL, res.AtmPayNo
		if at.State == ordermsg.AttemptSending {
			at.State = ordermsg.AttemptOpen
		}
		return next, saveOrder(t, old, next, s)
	})
	if err != nil {
		return o, internal("getPayInfo", err)
	}
	s.sched.kick(o.OID, s.cfg.PollInterval)
	return o2, nil
}

// authorize asks the cloud for a credit hold. A granted hold pays the order;
// the capture follows in the background.
func (s *Service) authorize(ctx context.Context, o *ordermsg.Order, n int) (*ordermsg.Order, error) {
	a := o.Attempt(n)
	tok, err := s.credit.Authorize(ctx, a.Account, o.AmountTotal, o.OID, s.cfg.CreditHoldTTL)
	now := s.now()
	if err == nil {
		o2, uerr := s.update(o.OID, func(t *store.Tx, old *ordermsg.Order) (*ordermsg.Order, error) {
			at := old.Attempt(n)
			if at.State != ordermsg.AttemptSending {
				return old, nil
			}
			next := old.Clone()
			at = next.Attempt(n)
			at.Token = tok
			if old.Status != ordermsg.StatusPending {
				at.State, at.Error = ordermsg.AttemptFailed, "the order closed before the hold was granted"
				return next, saveOrder(t, old, next, s)
			}
			if err := saveOrder(t, old, next, s); err != nil {
				return nil, err
			}
			return s.markPaid(t, next, n, now)
		})
		if uerr != nil {
			return o, internal("getPayInfo: credit", uerr)
		}
		return o2, nil
	}
	var reply *devmsg.Error
	release := true // nothing is held
	switch {
	case errors.Is(err, upstream.ErrInsufficientCredit):
		reply = devmsg.Errorf(devmsg.CodeForbidden, "insufficient_credit: the account does not have %d of store credit available; pay another way", o.AmountTotal)
	case upstream.IsRetryable(err) || ctx.Err() != nil:
		// The hold may exist (a lost reply): released when the order closes.
		release = false
		reply = devmsg.Errorf(devmsg.CodeOffline, "store credit needs the cloud, which cannot be reached (%v); pay another way", err)
	default:
		reply = ordermsg.BadRequest("store credit refused: %v", err)
	}
	o2, uerr := s.update(o.OID, func(t *store.Tx, old *ordermsg.Order) (*ordermsg.Order, error) {
		cur, err := s.markFailed(t, old, n, reply.Msg, now)
		if err != nil || !release {
			return cur, err
		}
		next := cur.Clone()
		next.Attempt(n).Released = true
		return next, saveOrder(t, cur, next, s)
	})
	if uerr != nil {
		return o, internal("getPayInfo: credit", uerr)
	}
	return o2, reply
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
