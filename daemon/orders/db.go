package orders

import (
	"encoding/json"
	"fmt"

	"github.com/storebox/storebox/daemon/orders/internal/orderdb"
	"github.com/storebox/storebox/daemon/payments"
	"github.com/storebox/storebox/daemon/store"
	"github.com/storebox/storebox/protocol/ordermsg"
)

// saveOrder writes o and moves every index from what old said to what o
// says (old is nil for a new order).
func saveOrder(t *store.Tx, old, o *ordermsg.Order, s *Service) error {
	v, err := json.Marshal(o)
	if err != nil {
		return fmt.Errorf("encode order %s: %w", o.OID, err)
	}
	return saveOrderJSON(t, old, o, v, s)
}

// saveOrderJSON is saveOrder with o already encoded as v. Work o owes is
// looked at once the transaction commits: at once for credit, after a poll
// interval for a provider payment.
func saveOrderJSON(t *store.Tx, old, o *ordermsg.Order, v []byte, s *Service) error {
	todo := s.workFor(o, s.now())
	if err := orderdb.Save(t, old, o, v, s.keys, old != nil && s.needsWork(old), len(todo) > 0); err != nil {
		return err
	}
	if len(todo) > 0 {
		after := s.cfg.PollInterval
		for _, k := range todo {
			if k != payments.WorkPoll {
				after = 0
			}
		}
		id := o.OID
		t.After(func() { s.sched.Kick(id, after) })
	}
	return nil
}
