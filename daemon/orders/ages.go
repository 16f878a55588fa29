package orders

import (
	"encoding/json"
	"time"

	"go.etcd.io/bbolt"

	"github.com/storebox/storebox/daemon/orders/internal/orderdb"
)

// AgeCount is how many stored orders were created less than Under ago
// (zero Under: the rest, older than the last edge).
type AgeCount struct {
	Under  time.Duration `json:"under_ns,omitempty"`
	Label  string        `json:"label"`
	Orders int           `json:"orders"`
}

// ageEdges are the ages `storebox data stats` counts orders by.
var ageEdges = []struct {
	d     time.Duration
	label string
}{{24 * time.Hour, "<1d"}, {7 * 24 * time.Hour, "<7d"}, {30 * 24 * time.Hour, "<30d"}, {90 * 24 * time.Hour, "<90d"}, {365 * 24 * time.Hour, "<1y"}}

// Stored is what the store file holds of orders: counts per state (as
// Counts) and per age at now. It reads tx, a read transaction on the
// store's file (storebox data stats opens the file without the daemon).
func Stored(tx *bbolt.Tx, now time.Time) (byState map[string]int, byAge []AgeCount, err error) {
	for _, e := range ageEdges {
		byAge = append(byAge, AgeCount{Under: e.d, Label: e.label})
	}
	byAge = append(byAge, AgeCount{Label: "older"})
	b := tx.Bucket(orderdb.OrdersBucket)
	if b == nil {
		return map[string]int{}, byAge, nil // no order was ever stored
	}
	byState = orderdb.Counts(tx)
	err = b.ForEach(func(_, v []byte) error {
		var o struct {
			CreatedAt time.Time `json:"created_at"`
		}
		if err := json.Unmarshal(v, &o); err != nil {
			return err
		}
		age := now.Sub(o.CreatedAt)
		i := 0
		for i < len(ageEdges) && age >= ageEdges[i].d {
			i++
		}
		byAge[i].Orders++
		return nil
	})
	return byState, byAge, err
}
