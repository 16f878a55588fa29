package orders

import (
	"context"
	"fmt"
	"net/http"

	"go.etcd.io/bbolt"

	"github.com/storebox/storebox/daemon/orders/internal/orderdb"
	"github.com/storebox/storebox/daemon/payments"
	"github.com/storebox/storebox/daemon/store"
	"github.com/storebox/storebox/protocol/ordermsg"
)

// NotifyHandler serves POST /api/v1/payments/notify for these orders
// (payments.NotifyHandler).
func (s *Service) NotifyHandler() http.Handler {
	return payments.NotifyHandler(s.cfg.NotifySecret, s.pay, outcomes{s}, s.cfg.CloudNow, s.log)
}

// PayPageHandler serves the test provider's pay page for these orders
// (payments.PayPage).
func (s *Service) PayPageHandler() http.Handler { return payments.PayPage(s.pay, outcomes{s}) }

// NotifySeen implements payments.NotifyRecorder.
func (s outcomes) NotifySeen(token string) bool {
	var used bool
	_ = s.st.View(func(tx *bbolt.Tx) error { used = orderdb.TokenUsed(tx, token); return nil })
	return used
}

// RecordNotify implements payments.NotifyRecorder. Only news that settles
// an attempt uses the token up.
func (s outcomes) RecordNotify(token string, rep payments.Report) (payments.NotifyOutcome, error) {
	var oid string
	_ = s.st.View(func(tx *bbolt.Tx) error { oid = orderdb.RefOrder(tx, rep.Ref); return nil })
	if oid == "" {
		return payments.NotifyUnknownOrder, nil
	}
	if rep.Status != payments.ReportPaid && rep.Status != payments.ReportFailed {
		return payments.NotifyNotFinal, nil
	}
	unlock := s.lock(oid)
	defer unlock()
	_, err := s.update(oid, func(t *store.Tx, old *ordermsg.Order) (*ordermsg.Order, error) {
		if orderdb.TokenUsed(t.Tx, token) {
			return old, nil
		}
		n := 0
		for _, a := range old.Attempts {
			if a.Ref == rep.Ref && a.Provider == s.pay.Name() {
				n = a.N
			}
		}
		if n == 0 {
			return old, nil
		}
		// A reply that matches nothing (another amount) leaves the token
		// open for a resend.
		if rep.Proves(rep.Ref, old.AmountTotal) || rep.Failed(rep.Ref) {
			if err := orderdb.UseToken(t, token, oid); err != nil {
				return nil, err
			}
		}
		return s.applyReport(t, old, n, rep, s.now())
	})
	return payments.NotifyRecorded, err
}

// PayPageOrder implements payments.PayPageOrders.
func (s outcomes) PayPageOrder(oid, provider string) (payments.PageOrder, bool, error) {
	o, ok, err := s.get(oid)
	if err != nil || !ok {
		return payments.PageOrder{}, ok, err
	}
	p := payments.PageOrder{OID: o.OID, AmountTotal: o.AmountTotal, Status: o.Status}
	for _, l := range o.Lines {
		p.Lines = append(p.Lines, payments.PageLine{GID: l.GID, Name: l.Name, Qty: l.Qty, WeightG: l.WeightG, Amount: l.Amount})
	}
	for _, a := range o.Attempts {
		if a.Provider == provider && a.Ref != "" {
			p.Refs = append(p.Refs, a.Ref)
		}
	}
	if a := o.LastAttempt(); o.Status == ordermsg.StatusPending && a != nil && a.Provider == provider && a.State == ordermsg.AttemptOpen {
		p.OpenRef = a.Ref
	}
	return p, true, nil
}

// PollRef implements payments.PayPageOrders.
func (s outcomes) PollRef(ctx context.Context, oid, ref string) error {
	o, ok, err := s.get(oid)
	if err != nil {
		return err
	}
	if ok && s.pay != nil {
		for _, a := range o.Attempts {
			if a.Ref == ref && a.Provider == s.pay.Name() {
				return s.pollNow(ctx, oid, a.N)
			}
		}
	}
	return fmt.Errorf("order %s has no payment %s", oid, ref)
}

// pollNow asks the provider about attempt n at once (a button press, a
// notify) instead of waiting for the next poll.
func (s *Service) pollNow(ctx context.Context, oid string, n int) error {
	unlock := s.lock(oid)
	defer unlock()
	return s.collect.Do(ctx, oid, n, payments.WorkPoll)
}
