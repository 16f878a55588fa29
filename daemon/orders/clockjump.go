package orders

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/storebox/storebox/daemon/orders/internal/orderdb"
	"github.com/storebox/storebox/daemon/payments"
	"github.com/storebox/storebox/daemon/store"
	"github.com/storebox/storebox/protocol/ordermsg"
)

// ShiftDeadlines moves every pending order's expiry by delta, the jump of
// the wall clock that Config.Now (a steadyclock) is about to take in, so
// each order keeps the time it had left: a clock set forward an hour does
// not expire them all at once, one set back does not keep them an hour
// longer. ExpiresAt stays a wall time on disk. A closed order whose
// provider payment is still asked about (LatePoll after ClosedAt) has its
// ClosedAt moved too, so a payment made at the last second is not missed
// because the clock went forward.
func (s *Service) ShiftDeadlines(delta time.Duration) error {
	n, late := 0, 0
	err := s.commit(func(t *store.Tx) error {
		n, late = 0, 0
		now := s.now() // not yet moved by the jump
		for _, oid := range orderdb.Owing(t.Tx) {
			o, err := orderdb.Load(t.Tx, oid)
			if err != nil {
				return err
			}
			if o == nil || o.Status == ordermsg.StatusPending || o.ClosedAt == nil || !latePolled(s.workFor(o, now)) {
				continue
			}
			moved := *o
			closed := o.ClosedAt.Add(delta)
			moved.ClosedAt = &closed
			v, err := json.Marshal(&moved)
			if err != nil {
				return fmt.Errorf("encode order %s: %w", oid, err)
			}
			// Still owing: measured against the clock after the jump it
			// has the late-poll time it had (saveOrder would judge it by
			// the clock before).
			if err := orderdb.Save(t, o, &moved, v, s.keys, true, true); err != nil {
				return err
			}
			late++
		}
		for _, oid := range orderdb.Pending(t.Tx) {
			o, err := orderdb.Load(t.Tx, oid)
			if err != nil {
				return err
			}
			if o == nil || o.Status != ordermsg.StatusPending {
				continue
			}
			moved := *o
			moved.ExpiresAt = o.ExpiresAt.Add(delta)
			if err := saveOrder(t, o, &moved, s); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.log.Warn("the wall clock jumped: pending orders keep the time they had left", "jump", delta, "orders", n, "late_polled", late)
	return nil
}

// latePolled says an order's work includes asking the provider.
func latePolled(work map[int]payments.Work) bool {
	for _, w := range work {
		if w == payments.WorkPoll {
			return true
		}
	}
	return false
}
