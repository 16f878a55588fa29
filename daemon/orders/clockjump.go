package orders

import (
	"time"

	"github.com/storebox/storebox/daemon/orders/internal/orderdb"
	"github.com/storebox/storebox/daemon/store"
	"github.com/storebox/storebox/protocol/ordermsg"
)

// ShiftDeadlines moves every pending order's expiry by delta, the jump of
// the wall clock that Config.Now (a steadyclock) is about to take in, so
// each order keeps the time it had left: a clock set forward an hour does
// not expire them all at once, one set back does not keep them an hour
// longer. ExpiresAt stays a wall time on disk.
func (s *Service) ShiftDeadlines(delta time.Duration) error {
	n := 0
	err := s.commit(func(t *store.Tx) error {
		n = 0
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
	s.log.Warn("the wall clock jumped: pending orders keep the time they had left", "jump", delta, "orders", n)
	return nil
}
