package orders

import (
	"fmt"
	"sort"
	"time"

	"github.com/storebox/storebox/daemon/store"
	"github.com/storebox/storebox/protocol/ledger"
	"github.com/storebox/storebox/protocol/ordermsg"
)

// byGID sums the lines' stock quantities per goods (an order may list the
// same goods twice), in a stable order.
func byGID(lines []ordermsg.Line) ([]string, map[string]int64) {
	sum := map[string]int64{}
	var gids []string
	for _, l := range lines {
		if _, ok := sum[l.GID]; !ok {
			gids = append(gids, l.GID)
		}
		sum[l.GID] += l.StockQty()
	}
	sort.Strings(gids)
	return gids, sum
}

// stockMove changes on-hand and reserved stock of every line by
// (onHand×q, reserved×q). PutStock refuses anything negative or
// over-reserved, so a bug here fails the transaction instead of overselling.
func stockMove(t *store.Tx, wh string, lines []ordermsg.Line, onHand, reserved int64) error {
	gids, sum := byGID(lines)
	for _, gid := range gids {
		lvl := store.GetStock(t.Tx, wh, gid)
		lvl.OnHand += onHand * sum[gid]
		lvl.Reserved += reserved * sum[gid]
		if err := t.PutStock(wh, gid, lvl); err != nil {
			return fmt.Errorf("order stock %s: %w", gid, err)
		}
	}
	return nil
}

// shortLines names the goods whose available stock cannot cover the lines.
func shortLines(t *store.Tx, wh string, lines []ordermsg.Line) []string {
	gids, sum := byGID(lines)
	var short []string
	for _, gid := range gids {
		if lvl := store.GetStock(t.Tx, wh, gid); lvl.Available() < sum[gid] {
			short = append(short, fmt.Sprintf("%s (asked %d, available %d)", gid, sum[gid], max(lvl.Available(), 0)))
		}
	}
	return short
}

func event(t *store.Tx, typ string, o *ordermsg.Order, a *ordermsg.Attempt, reason string) error {
	_, err := t.AppendEvent(typ, ordermsg.NewEventData(o, a, reason))
	return err
}

// markPaid records that attempt n collected the money. It never reverts a
// final state: a second payment on a paid order is flagged, a late payment
// on an expired or cancelled order books the stock if it is still there and
// otherwise sets needs_review.
func (s *Service) markPaid(t *store.Tx, old *ordermsg.Order, n int, now time.Time) (*ordermsg.Order, error) {
	o := old.Clone()
	a := o.Attempt(n)
	if a == nil {
		return nil, fmt.Errorf("order %s has no attempt %d", o.OID, n)
	}
	if a.State == ordermsg.AttemptPaid {
		return old, nil // news we already have
	}
	a.State, a.Error = ordermsg.AttemptPaid, ""
	switch o.Status {
	case ordermsg.StatusPending:
		if err := stockMove(t, o.Warehouse, o.Lines, -1, -1); err != nil {
			return nil, err
		}
		s.booked(o, a, now)
		if err := event(t, ledger.OrderPaid, o, a, ""); err != nil {
			return nil, err
		}
		if err := s.afterPaid(t, o); err != nil {
			return nil, err
		}
	case ordermsg.StatusExpired, ordermsg.StatusCancelled:
		was := o.Status
		if short := shortLines(t, o.Warehouse, o.Lines); len(short) > 0 {
			o.Status = ordermsg.StatusNeedsReview
			reason := fmt.Sprintf("attempt %d (%s) was paid after the order was %s, and the stock is gone: %s; refund or hand over the goods", n, a.Method, was, fmtLines(short))
			o.Flag(reason, now)
			if err := event(t, ledger.OrderReview, o, a, reason); err != nil {
				return nil, err
			}
			break
		}
		if err := stockMove(t, o.Warehouse, o.Lines, -1, 0); err != nil {
			return nil, err
		}
		s.booked(o, a, now)
		if err := event(t, ledger.OrderPaid, o, a, "paid after the order was "+was); err != nil {
			return nil, err
		}
		if err := s.afterPaid(t, o); err != nil {
			return nil, err
		}
	default: // paid or needs_review: money came in twice
		reason := fmt.Sprintf("attempt %d (%s, %s) was paid, but the order is already %s", n, a.Method, a.Ref, o.Status)
		if o.PaidBy != 0 {
			reason += fmt.Sprintf(" by attempt %d", o.PaidBy)
		}
		o.Flag(reason+": refund the second payment", now)
		if err := event(t, ledger.OrderReview, o, a, reason); err != nil {
			return nil, err
		}
	}
	return o, saveOrder(t, old, o, s)
}

func (s *Service) booked(o *ordermsg.Order, a *ordermsg.Attempt, now time.Time) {
	o.Status = ordermsg.StatusPaid
	o.Method = a.Method
	o.PaidBy = a.N
	o.PaidAt = &now
	o.ClosedAt = &now
	for i := range o.Attempts {
		if o.Attempts[i].N != a.N && (o.Attempts[i].State == ordermsg.AttemptOpen || o.Attempts[i].State == ordermsg.AttemptSending) {
			o.Attempts[i].State = ordermsg.AttemptSuperseded
		}
	}
}

// afterPaid queues what a payment owes besides the stock: the receipt
// pushed to the terminal once the transaction commits, and what the paid
// hook writes (print jobs) in the transaction itself.
func (s *Service) afterPaid(t *store.Tx, o *ordermsg.Order) error {
	if s.cfg.OnPaid != nil {
		if err := s.cfg.OnPaid(t, o); err != nil {
			return fmt.Errorf("order %s paid: %w", o.OID, err)
		}
	}
	push := paidPush{PaidPush: ordermsg.PaidPush{OID: o.OID, AmountTotal: o.AmountTotal, Method: o.Method, PaidAt: *o.PaidAt},
		WithPrintList: s.Receipt(o)}
	equip := o.EquipID
	t.After(func() { s.push(equip, "orderPaid", push) })
	return nil
}

// markFailed records that attempt n failed. A failure of the attempt that
// paid contradicts a final state: flagged, never reverted.
func (s *Service) markFailed(t *store.Tx, old *ordermsg.Order, n int, why string, now time.Time) (*ordermsg.Order, error) {
	o := old.Clone()
	a := o.Attempt(n)
	if a == nil {
		return nil, fmt.Errorf("order %s has no attempt %d", o.OID, n)
	}
	switch a.State {
	case ordermsg.AttemptFailed:
		return old, nil
	case ordermsg.AttemptPaid:
		reason := fmt.Sprintf("attempt %d (%s) was recorded paid, now reported failed: %s", n, a.Method, why)
		o.Flag(reason, now)
		if err := event(t, ledger.OrderReview, o, a, reason); err != nil {
			return nil, err
		}
		return o, saveOrder(t, old, o, s)
	}
	a.State, a.Error = ordermsg.AttemptFailed, why
	if err := event(t, ledger.PaymentFailed, o, a, why); err != nil {
		return nil, err
	}
	return o, saveOrder(t, old, o, s)
}

// close ends a pending order as cancelled or expired and releases its
// reservation.
func (s *Service) close(t *store.Tx, old *ordermsg.Order, status string, now time.Time) (*ordermsg.Order, error) {
	if old.Status != ordermsg.StatusPending {
		return old, nil
	}
	o := old.Clone()
	if err := stockMove(t, o.Warehouse, o.Lines, 0, -1); err != nil {
		return nil, err
	}
	o.Status = status
	o.ClosedAt = &now
	typ := ledger.OrderCancelled
	if status == ordermsg.StatusExpired {
		typ = ledger.OrderExpired
		equip, oid := o.EquipID, o.OID
		t.After(func() { s.push(equip, "orderExpired", ordermsg.ExpiredPush{OID: oid}) })
	}
	if err := event(t, typ, o, nil, ""); err != nil {
		return nil, err
	}
	return o, saveOrder(t, old, o, s)
}
