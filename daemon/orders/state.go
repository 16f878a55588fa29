package orders

import (
	"fmt"
	"sort"
	"time"

	"github.com/storebox/storebox/daemon/store"
	"github.com/storebox/storebox/protocol/ledger"
)

// byGID sums the lines' stock quantities per goods (an order may list the
// same goods twice), in a stable order.
func byGID(lines []Line) ([]string, map[string]int64) {
	sum := map[string]int64{}
	var gids []string
	for _, l := range lines {
		if _, ok := sum[l.GID]; !ok {
			gids = append(gids, l.GID)
		}
		sum[l.GID] += l.stockQty()
	}
	sort.Strings(gids)
	return gids, sum
}

// stockMove changes on-hand and reserved stock of every line by
// (onHand×q, reserved×q). PutStock refuses anything negative or
// over-reserved, so a bug here fails the transaction instead of overselling.
func stockMove(t *store.Tx, wh string, lines []Line, onHand, reserved int64) error {
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
func shortLines(t *store.Tx, wh string, lines []Line) []string {
	gids, sum := byGID(lines)
	var short []string
	for _, gid := range gids {
		if lvl := store.GetStock(t.Tx, wh, gid); lvl.Available() < sum[gid] {
			short = append(short, fmt.Sprintf("%s (asked %d, available %d)", gid, sum[gid], max(lvl.Available(), 0)))
		}
	}
	return short
}

// eventData is what every order and payment event carries (SPEC §6).
type eventData struct {
	OID         string     `json:"oid"`
	OrderID     string     `json:"order_id"`
	EquipID     string     `json:"equipId"`
	OpenID      string     `json:"openId,omitempty"`
	Source      string     `json:"source,omitempty"`
	Status      string     `json:"status"`
	AmountTotal int64      `json:"amount_total"`
	Method      string     `json:"method"`
	Lines       []Line     `json:"lines"`
	Warehouse   string     `json:"whid"`
	PaidAt      *time.Time `json:"paid_at,omitempty"`
	Attempt     int        `json:"attempt,omitempty"`
	Provider    string     `json:"provider,omitempty"`
	Ref         string     `json:"ref,omitempty"`
	Reason      string     `json:"reason,omitempty"`
	TestMode    bool       `json:"test_mode,omitempty"`
}

func event(t *store.Tx, typ string, o *Order, a *Attempt, reason string) error {
	_, err := t.AppendEvent(typ, newEventData(o, a, reason))
	return err
}

func newEventData(o *Order, a *Attempt, reason string) eventData {
	d := eventData{OID: o.OID, OrderID: o.OrderID, EquipID: o.EquipID, OpenID: o.OpenID, Source: o.Source, Status: o.Status,
		AmountTotal: o.AmountTotal, Method: o.Method, Lines: o.Lines, Warehouse: o.Warehouse, PaidAt: o.PaidAt,
		Reason: reason, TestMode: o.TestMode}
	if a != nil {
		d.Attempt, d.Provider, d.Ref, d.Method = a.N, a.Provider, a.Ref, a.Method
	}
	return d
}

func (o *Order) flag(reason string, now time.Time) {
	o.Reviews = append(o.Reviews, Review{Reason: reason, At: now})
}

// clone copies o deeply enough that changing the copy's slices leaves o as
// it was (saveOrder diffs old against new).
func (o *Order) clone() *Order {
	c := *o
	c.Lines = append([]Line(nil), o.Lines...)
	c.Attempts = append([]Attempt(nil), o.Attempts...)
	c.Reviews = append([]Review(nil), o.Reviews...)
	return &c
}

// markPaid records that attempt n collected the money. It never reverts a
// final state: a second payment on a paid order is flagged, a late payment
// on an expired or cancelled order books the stock if it is still there and
// otherwise sets needs_review.
func (s *Service) markPaid(t *store.Tx, old *Order, n int, now time.Time) (*Order, error) {
	o := old.clone()
	a := o.attempt(n)
	if a == nil {
		return nil, fmt.Errorf("order %s has no attempt %d", o.OID, n)
	}
	if a.State == AttemptPaid {
		return old, nil // news we already have
	}
	a.State, a.Error = AttemptPaid, ""
	switch o.Status {
	case StatusPending:
		if err := stockMove(t, o.Warehouse, o.Lines, -1, -1); err != nil {
			return nil, err
		}
		s.booked(o, a, now)
		if err := event(t, ledger.OrderPaid, o, a, ""); err != nil {
			return nil, err
		}
		s.afterPaid(t, o)
	case StatusExpired, StatusCancelled:
		was := o.Status
		if short := shortLines(t, o.Warehouse, o.Lines); len(short) > 0 {
			o.Status = StatusNeedsReview
			reason := fmt.Sprintf("attempt %d (%s) was paid after the order was %s, and the stock is gone: %s; refund or hand over the goods", n, a.Method, was, fmtLines(short))
			o.flag(reason, now)
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
		s.afterPaid(t, o)
	default: // paid or needs_review: money came in twice
		reason := fmt.Sprintf("attempt %d (%s, %s) was paid, but the order is already %s", n, a.Method, a.Ref, o.Status)
		if o.PaidBy != 0 {
			reason += fmt.Sprintf(" by attempt %d", o.PaidBy)
		}
		o.flag(reason+": refund the second payment", now)
		if err := event(t, ledger.OrderReview, o, a, reason); err != nil {
			return nil, err
		}
	}
	return o, saveOrder(t, old, o, s)
}

func (s *Service) booked(o *Order, a *Attempt, now time.Time) {
	o.Status = StatusPaid
	o.Method = a.Method
	o.PaidBy = a.N
	o.PaidAt = &now
	o.ClosedAt = &now
	for i := range o.Attempts {
		if o.Attempts[i].N != a.N && (o.Attempts[i].State == AttemptOpen || o.Attempts[i].State == AttemptSending) {
			o.Attempts[i].State = AttemptSuperseded
		}
	}
}

func (s *Service) afterPaid(t *store.Tx, o *Order) {
	push := PaidPush{OID: o.OID, AmountTotal: o.AmountTotal, Method: o.Method, PaidAt: *o.PaidAt}
	equip := o.EquipID
	t.After(func() { s.push(equip, "orderPaid", push) })
}

// PaidPush is the body of the orderPaid push.
type PaidPush struct {
	OID         string    `json:"oid"`
	AmountTotal int64     `json:"amount_total"`
	Method      string    `json:"method"`
	PaidAt      time.Time `json:"paid_at"`
}

// markFailed records that attempt n failed. A failure of the attempt that
// paid contradicts a final state: flagged, never reverted.
func (s *Service) markFailed(t *store.Tx, old *Order, n int, why string, now time.Time) (*Order, error) {
	o := old.clone()
	a := o.attempt(n)
	if a == nil {
		return nil, fmt.Errorf("order %s has no attempt %d", o.OID, n)
	}
	switch a.State {
	case AttemptFailed:
		return old, nil
	case AttemptPaid:
		reason := fmt.Sprintf("attempt %d (%s) was recorded paid, now reported failed: %s", n, a.Method, why)
		o.flag(reason, now)
		if err := event(t, ledger.OrderReview, o, a, reason); err != nil {
			return nil, err
		}
		return o, saveOrder(t, old, o, s)
	}
	a.State, a.Error = AttemptFailed, why
	if err := event(t, ledger.PaymentFailed, o, a, why); err != nil {
		return nil, err
	}
	return o, saveOrder(t, old, o, s)
}

// close ends a pending order as cancelled or expired and releases its
// reservation.
func (s *Service) close(t *store.Tx, old *Order, status string, now time.Time) (*Order, error) {
	if old.Status != StatusPending {
		return old, nil
	}
	o := old.clone()
	if err := stockMove(t, o.Warehouse, o.Lines, 0, -1); err != nil {
		return nil, err
	}
	o.Status = status
	o.ClosedAt = &now
	typ := ledger.OrderCancelled
	if status == StatusExpired {
		typ = ledger.OrderExpired
		equip, oid := o.EquipID, o.OID
		t.After(func() { s.push(equip, "orderExpired", ExpiredPush{OID: oid}) })
	}
	if err := event(t, typ, o, nil, ""); err != nil {
		return nil, err
	}
	return o, saveOrder(t, old, o, s)
}

// ExpiredPush is the body of the orderExpired push.
type ExpiredPush struct {
	OID string `json:"oid"`
}
