package outbox

import (
	"encoding/binary"
	"encoding/json"
	"fmt"

	"go.etcd.io/bbolt"

	"github.com/storebox/storebox/protocol/ledger"
)

// scratchBucket holds the renumbered events while the outbox is rebuilt.
var scratchBucket = []byte("outbox.renumber")

// Renumbered says what Renumber did.
type Renumbered struct {
	Events      int    // unsent events renumbered
	First, Last uint64 // their new seqs (0 when there were none)
	OldFirst    uint64 // the first one's seq before
}

// Renumber gives the unsent events seqs from first on, in their order, ids
// and bodies unchanged, inside tx (docs/UPSTREAM.md §3: a new or restored data directory
// numbers its unsent events above the cloud's last seq). The caller moves
// the sequence counter to the returned Last (or first-1 when empty).
//
// The events go through a scratch bucket and the outbox is rebuilt from
// it, so no renumbered key can land on one not yet moved whatever the
// direction of the shift.
func Renumber(tx *bbolt.Tx, first uint64) (Renumbered, error) {
	var r Renumbered
	ob := tx.Bucket(bucket)
	if k, _ := ob.Cursor().First(); k == nil {
		return r, nil
	} else if binary.BigEndian.Uint64(k) == first {
		// Already in place (a restore of the newest backup onto the same
		// cloud): nothing to rewrite unless there are gaps.
		n, last, contiguous := 0, first-1, true
		ob.ForEach(func(k, _ []byte) error {
			n++
			if s := binary.BigEndian.Uint64(k); s != last+1 {
				contiguous = false
			} else {
				last = s
			}
			return nil
		})
		if contiguous {
			return Renumbered{Events: n, First: first, Last: last, OldFirst: first}, nil
		}
	}
	scratch, err := tx.CreateBucket(scratchBucket)
	if err != nil {
		return r, fmt.Errorf("renumber outbox: %w", err)
	}
	next := first
	c := ob.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		var ev ledger.Event
		if err := json.Unmarshal(v, &ev); err != nil {
			return r, fmt.Errorf("renumber outbox: decode event %d: %w", binary.BigEndian.Uint64(k), err)
		}
		if r.Events == 0 {
			r.OldFirst = ev.Seq
		}
		ev.Seq = next
		if err := scratch.Put(key(next), encodeEvent(ev)); err != nil {
			return r, fmt.Errorf("renumber outbox: %w", err)
		}
		r.Events++
		r.Last = next
		next++
	}
	r.First = first
	if err := tx.DeleteBucket(bucket); err != nil {
		return r, fmt.Errorf("renumber outbox: %w", err)
	}
	ob, err = tx.CreateBucket(bucket)
	if err != nil {
		return r, fmt.Errorf("renumber outbox: %w", err)
	}
	ob.FillPercent = 1 // keys arrive in order: pack the pages
	if err := scratch.ForEach(func(k, v []byte) error { return ob.Put(k, v) }); err != nil {
		return r, fmt.Errorf("renumber outbox: %w", err)
	}
	if err := tx.DeleteBucket(scratchBucket); err != nil {
		return r, fmt.Errorf("renumber outbox: %w", err)
	}
	return r, nil
}
