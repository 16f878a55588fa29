package orders

import (
	"bytes"

	"go.etcd.io/bbolt"

	"github.com/storebox/storebox/protocol/ordermsg"
)

// Recent returns the newest n orders, newest first.
func (s *Service) Recent(n int) []ordermsg.Order {
	var out []ordermsg.Order
	_ = s.st.View(func(tx *bbolt.Tx) error {
		c := tx.Bucket(bktOrders).Cursor()
		for k, v := c.Last(); k != nil && len(out) < n; k, v = c.Prev() {
			if o, err := decode(v); err == nil {
				out = append(out, o.Redacted())
			}
		}
		return nil
	})
	return out
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
		for _, oid := range prefixKeys(tx.Bucket(bktStatus), status, limit, true) {
			if o, err := loadOrder(tx, oid); err == nil && o != nil {
				out = append(out, o.Redacted())
			}
		}
		return nil
	})
	return out
}

// Counts returns how many orders are in each state, plus "review": how
// many are flagged for a person (NeedsReview).
func (s *Service) Counts() map[string]int {
	out := map[string]int{}
	_ = s.st.View(func(tx *bbolt.Tx) error {
		m := tx.Bucket(bktMeta)
		for _, st := range allStatuses {
			out[st] = int(readU64(m.Get(countKey(st))))
		}
		out["review"] = tx.Bucket(bktReview).Stats().KeyN
		return nil
	})
	return out
}

// NeedsReview returns every order flagged for a person, oldest first.
func (s *Service) NeedsReview() []ordermsg.Order {
	var out []ordermsg.Order
	_ = s.st.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bktReview).ForEach(func(k, _ []byte) error {
			if o, err := loadOrder(tx, string(k)); err == nil && o != nil {
				out = append(out, o.Redacted())
			}
			return nil
		})
	})
	return out
}

// HasPendingUnpaid reports whether openID has an order waiting for payment
// (doors: an exit scan is refused while one exists).
func (s *Service) HasPendingUnpaid(openID string) (bool, error) {
	return s.hasOrderIn(openID, ordermsg.StatusPending)
}

// HasExpiredUnpaid reports whether openID let an order expire unpaid.
func (s *Service) HasExpiredUnpaid(openID string) (bool, error) {
	return s.hasOrderIn(openID, ordermsg.StatusExpired)
}

func (s *Service) hasOrderIn(openID, status string) (bool, error) {
	if openID == "" {
		return false, nil
	}
	found := false
	err := s.st.View(func(tx *bbolt.Tx) error {
		p := join(openID, "")
		c := tx.Bucket(bktOpenID).Cursor()
		for k, _ := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, _ = c.Next() {
			o, err := loadOrder(tx, string(k[len(p):]))
			if err != nil {
				return err
			}
			if o != nil && o.Status == status {
				found = true
				return nil
			}
		}
		return nil
	})
	return found, err
}
