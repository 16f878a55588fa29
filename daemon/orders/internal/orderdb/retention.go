package orderdb

import (
	"bytes"
	"fmt"
	"time"

	"go.etcd.io/bbolt"

	"github.com/storebox/storebox/daemon/store"
	"github.com/storebox/storebox/protocol/ordermsg"
)

// moveDone keeps o's entry in the finish-time index in step with its
// state (old is nil for a new order).
func moveDone(t *store.Tx, old, o *ordermsg.Order) error {
	b := t.Bucket(bktDone)
	b.FillPercent = appendOnly
	nk, in := doneKey(o)
	if old != nil {
		if ok, was := doneKey(old); was && (!in || !bytes.Equal(ok, nk)) {
			if err := b.Delete(ok); err != nil {
				return err
			}
		}
	}
	if !in {
		return nil
	}
	return b.Put(nk, nil)
}

// Finished is an entry of the finish-time index.
type Finished struct {
	Key []byte // where a later walk goes on after it
	OID string
}

// FinishedBefore lists up to max entries of the finish-time index that
// closed before cutoff, oldest first, starting after the index key from
// (nil: the oldest). more says the cutoff was not reached.
func FinishedBefore(tx *bbolt.Tx, cutoff time.Time, from []byte, max int) (out []Finished, more bool) {
	limit := expiryKey(cutoff, "")
	c := tx.Bucket(bktDone).Cursor()
	var k []byte
	if from == nil {
		k, _ = c.First()
	} else if k, _ = c.Seek(from); k != nil && bytes.Equal(k, from) {
		k, _ = c.Next()
	}
	for ; k != nil && bytes.Compare(k, limit) < 0; k, _ = c.Next() {
		if len(out) == max {
			return out, true
		}
		out = append(out, Finished{Key: bytes.Clone(k), OID: string(k[8:])})
	}
	return out, false
}

// Owes reports whether oid is indexed as owing payment work.
func Owes(tx *bbolt.Tx, oid string) bool { return tx.Bucket(bktWork).Get([]byte(oid)) != nil }

// KeyRemover deletes an order's idempotency key (keyindex.Index).
type KeyRemover interface {
	Remove(t *store.Tx, key []byte) error
}

// Remove deletes order o and every index entry that names it: the record,
// status, finish time, openId, provider references, notify tokens and the
// idempotency key. It refuses an order that is not finished or that a
// person must look at (those are never removed).
func Remove(t *store.Tx, o *ordermsg.Order, keys KeyRemover) error {
	dk, finished := doneKey(o)
	if !finished {
		return fmt.Errorf("remove order %s: it is %s and not finished", o.OID, o.Status)
	}
	oid := []byte(o.OID)
	if err := keys.Remove(t, Key(o.EquipID, o.OrderID)); err != nil {
		return fmt.Errorf("remove order %s: idempotency key: %w", o.OID, err)
	}
	del := []struct {
		b []byte
		k []byte
	}{
		{OrdersBucket, oid},
		{bktStatus, join(o.Status, o.OID)},
		{bktDone, dk},
		{bktWork, oid},
	}
	if o.OpenID != "" {
		del = append(del, struct{ b, k []byte }{bktOpenID, join(o.OpenID, o.OID)})
	}
	refs := t.Bucket(bktRefs)
	for _, a := range o.Attempts {
		// A reference is only removed while it still names this order.
		if a.Ref != "" && bytes.Equal(refs.Get([]byte(a.Ref)), oid) {
			del = append(del, struct{ b, k []byte }{bktRefs, []byte(a.Ref)})
		}
	}
	for _, d := range del {
		if err := t.Bucket(d.b).Delete(d.k); err != nil {
			return fmt.Errorf("remove order %s from %s: %w", o.OID, d.b, err)
		}
	}
	tb, to := t.Bucket(bktTokens), t.Bucket(bktTokenOID)
	p := join(o.OID, "")
	c := to.Cursor()
	for k, _ := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, _ = c.Seek(p) {
		if err := tb.Delete(bytes.Clone(k[len(p):])); err != nil {
			return fmt.Errorf("remove order %s: notify token: %w", o.OID, err)
		}
		if err := c.Delete(); err != nil {
			return fmt.Errorf("remove order %s: notify token: %w", o.OID, err)
		}
	}
	m := t.Bucket(bktMeta)
	return m.Put(countKey(o.Status), be64(readU64(m.Get(countKey(o.Status)))-1))
}
