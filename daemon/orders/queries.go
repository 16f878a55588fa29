package orders

import (
	"go.etcd.io/bbolt"

	"github.com/storebox/storebox/daemon/orders/internal/orderdb"
	"github.com/storebox/storebox/daemon/store"
	"github.com/storebox/storebox/protocol/ordermsg"
)

func redacted(list []ordermsg.Order) []ordermsg.Order {
	for i := range list {
		list[i] = list[i].Redacted()
	}
	return list
}

// Recent returns the newest n orders, newest first.
func (s *Service) Recent(n int) []ordermsg.Order {
	var out []ordermsg.Order
	_ = s.st.View(func(tx *bbolt.Tx) error {
		out = orderdb.Recent(tx, n)
		return nil
	})
	return redacted(out)
}

// List returns up to limit orders in status (all when status is ""),
// newest first.
func (s *Service) List(status string, limit int) []ordermsg.Order {
	if limit <= 0 {
		limit = 100
	}
	if status == "" {
		return s.Recent(limit)
	}
	var out []ordermsg.Order
	_ = s.st.View(func(tx *bbolt.Tx) error {
		out = orderdb.InStatus(tx, status, limit)
		return nil
	})
	return redacted(out)
}

// Counts returns how many orders are in each state; needs_review is every
// order flagged for a person (NeedsReview), whatever its state.
func (s *Service) Counts() map[string]int {
	var out map[string]int
	_ = s.st.View(func(tx *bbolt.Tx) error {
		out = orderdb.Counts(tx)
		return nil
	})
	if out == nil {
		out = map[string]int{}
	}
	return out
}

// NeedsReview returns every order flagged for a person, oldest first.
func (s *Service) NeedsReview() []ordermsg.Order {
	var out []ordermsg.Order
	_ = s.st.View(func(tx *bbolt.Tx) error {
		out = orderdb.Flagged(tx)
		return nil
	})
	return redacted(out)
}

// HasPendingUnpaid reports whether openID has an order waiting for payment
// (doors: an exit scan is refused while one exists).
func (s *Service) HasPendingUnpaid(openID string) (bool, error) {
	return NewCustomers(s.st).HasPendingUnpaid(openID)
}

// HasExpiredUnpaid reports whether openID let an order expire unpaid.
func (s *Service) HasExpiredUnpaid(openID string) (bool, error) {
	return NewCustomers(s.st).HasExpiredUnpaid(openID)
}

// Customers answers the door policy's questions about a customer from the
// stored orders. It needs no Service, so the doors (whom the orders ask
// who was admitted) can be built before the orders are.
type Customers struct{ st *store.Store }

// NewCustomers reads the orders kept in st.
func NewCustomers(st *store.Store) Customers { return Customers{st} }

// HasPendingUnpaid reports whether openID has an order waiting for payment.
func (c Customers) HasPendingUnpaid(openID string) (bool, error) {
	return c.hasOrderIn(openID, ordermsg.StatusPending)
}

// HasExpiredUnpaid reports whether openID let an order expire unpaid.
func (c Customers) HasExpiredUnpaid(openID string) (bool, error) {
	return c.hasOrderIn(openID, ordermsg.StatusExpired)
}

func (c Customers) hasOrderIn(openID, status string) (found bool, err error) {
	if openID == "" {
		return false, nil
	}
	err = c.st.View(func(tx *bbolt.Tx) error {
		found, err = orderdb.HasOrderIn(tx, openID, status)
		return err
	})
	return found, err
}
