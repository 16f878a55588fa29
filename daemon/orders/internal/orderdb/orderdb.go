// Package orderdb keeps the orders in the store's bbolt file: the order
// records and the indexes beside them (status, expiry, review, openId,
// provider references, processed notify tokens, outstanding work), all in
// the same transactions as the stock and the ledger events they go with.
// It knows where an order lives, not what its states mean.
package orderdb

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	"go.etcd.io/bbolt"

	"github.com/storebox/storebox/daemon/store"
	"github.com/storebox/storebox/protocol/ordermsg"
)

// Buckets, all in the store's file so an order, its stock and its ledger
// events commit together.
var (
	OrdersBucket = []byte("ord_orders") // oid → ordermsg.Order JSON
	KeysBucket   = []byte("ord_keys")   // equipId \0 order_id → oid, compacted from the log
	KeyLogBucket = []byte("ord_keylog") // sequence → len16 key, oid: keys not yet in KeysBucket
	bktExpiry    = []byte("ord_expiry") // be64(expires unix ns) oid → nil, pending orders only
	bktStatus    = []byte("ord_status") // status \0 oid → nil
	bktReview    = []byte("ord_review") // oid → nil
	bktOpenID    = []byte("ord_openid") // openId \0 oid → nil
	bktRefs      = []byte("ord_refs")   // provider order number → oid
	bktTokens    = []byte("ord_tokens") // processed PayToken → oid
	bktWork      = []byte("ord_work")   // oid → nil: polling, capture or release outstanding
	bktMeta      = []byte("ord_meta")
	// Schema 2 (retention): finished orders by finish time, and the
	// notify tokens by order, so old orders are found and removed without
	// a walk over all of them. The store's migration to schema 2 builds
	// both from schema 1's buckets (daemon/store/migrate.go).
	bktDone     = []byte("ord_done")     // be64(finished unix ns) oid → nil: paid, cancelled or expired, not flagged
	bktTokenOID = []byte("ord_tokenoid") // oid \0 token → nil: bktTokens by order
	buckets     = [][]byte{OrdersBucket, KeysBucket, KeyLogBucket, bktExpiry, bktStatus, bktReview, bktOpenID, bktRefs, bktTokens, bktWork, bktMeta, bktDone, bktTokenOID}

	keyInstance = []byte("instance")
	keySeq      = []byte("seq")
)

var allStatuses = []string{ordermsg.StatusPending, ordermsg.StatusPaid, ordermsg.StatusCancelled, ordermsg.StatusExpired, ordermsg.StatusNeedsReview}

// Key is the idempotency key of a terminal's order_id.
func Key(equipID, orderID string) []byte { return join(equipID, orderID) }

func join(a, b string) []byte {
	k := make([]byte, 0, len(a)+1+len(b))
	k = append(k, a...)
	k = append(k, 0)
	return append(k, b...)
}

func expiryKey(at time.Time, oid string) []byte {
	k := make([]byte, 8, 8+len(oid))
	binary.BigEndian.PutUint64(k, uint64(at.UnixNano()))
	return append(k, oid...)
}

// doneKey is o's key in the finish-time index, and whether o belongs
// there: a paid, cancelled or expired order that no one must look at,
// keyed by when it closed.
func doneKey(o *ordermsg.Order) ([]byte, bool) {
	switch o.Status {
	case ordermsg.StatusPaid, ordermsg.StatusCancelled, ordermsg.StatusExpired:
	default:
		return nil, false
	}
	if o.NeedsReview() {
		return nil, false
	}
	at := o.CreatedAt
	if o.ClosedAt != nil {
		at = *o.ClosedAt
	}
	return expiryKey(at, o.OID), true
}

func be64(v uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	return b[:]
}

func readU64(v []byte) uint64 {
	if len(v) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

func countKey(status string) []byte { return []byte("count." + status) }

// Open creates the buckets and the instance prefix of oids. The
// prefix is random per data directory, so a store whose data was lost never
// reuses an oid, and with it a provider order number already paid; a data
// directory restored from a backup gets a new one too (the old box went on
// numbering after the backup).
func Open(st *store.Store) (instance string, seq uint64, err error) {
	err = st.Update(func(t *store.Tx) error {
		for _, b := range buckets {
			if _, err := t.CreateBucketIfNotExists(b); err != nil {
				return fmt.Errorf("create bucket %s: %w", b, err)
			}
		}
		m := t.Bucket(bktMeta)
		seq = readU64(m.Get(keySeq))
		fresh, err := t.TakeFreshIDs()
		if err != nil {
			return err
		}
		if v := m.Get(keyInstance); v != nil && !fresh {
			instance = string(v)
			return nil
		}
		instance = newInstance()
		return m.Put(keyInstance, []byte(instance))
	})
	if err != nil {
		return "", 0, fmt.Errorf("open orders: %w", err)
	}
	return instance, seq, nil
}

func newInstance() string {
	const alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	var b [4]byte
	_, _ = rand.Read(b[:])
	out := make([]byte, 4)
	for i := range b {
		out[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(out)
}

// Load reads order oid (nil when there is none).
func Load(tx *bbolt.Tx, oid string) (*ordermsg.Order, error) {
	v := tx.Bucket(OrdersBucket).Get([]byte(oid))
	if v == nil {
		return nil, nil
	}
	o, err := Decode(v)
	if err != nil {
		return nil, fmt.Errorf("Decode order %s: %w", oid, err)
	}
	return o, nil
}

// Decode decodes a stored order.
func Decode(v []byte) (*ordermsg.Order, error) {
	o := new(ordermsg.Order)
	if err := json.Unmarshal(v, o); err != nil {
		return nil, err
	}
	return o, nil
}

// KeyAdder records a new order's idempotency key (keyindex.Index).
type KeyAdder interface {
	Add(t *store.Tx, key []byte, oid string) error
}

// appendOnly is the fill for buckets whose keys mostly grow (oids, times):
// full pages instead of half-full ones after a split.
const appendOnly = 0.9

// Save writes o, encoded as v, and moves every index from what old said
// to what o says (old is nil for a new order); keys gets a new order's
// idempotency key. hadWork and hasWork say whether old and o owe payment
// work (the work index). Save is the only writer of orders.
func Save(t *store.Tx, old, o *ordermsg.Order, v []byte, keys KeyAdder, hadWork, hasWork bool) error {
	oid := []byte(o.OID)
	ob := t.Bucket(OrdersBucket)
	ob.FillPercent = appendOnly
	if err := ob.Put(oid, v); err != nil {
		return err
	}
	st, m := t.Bucket(bktStatus), t.Bucket(bktMeta)
	st.FillPercent = appendOnly
	if old == nil {
		if err := keys.Add(t, Key(o.EquipID, o.OrderID), o.OID); err != nil {
			return err
		}
		if o.OpenID != "" {
			if err := t.Bucket(bktOpenID).Put(join(o.OpenID, o.OID), nil); err != nil {
				return err
			}
		}
	}
	if old == nil || old.Status != o.Status {
		if old != nil {
			_ = st.Delete(join(old.Status, o.OID))
			_ = m.Put(countKey(old.Status), be64(readU64(m.Get(countKey(old.Status)))-1))
		}
		if err := st.Put(join(o.Status, o.OID), nil); err != nil {
			return err
		}
		_ = m.Put(countKey(o.Status), be64(readU64(m.Get(countKey(o.Status)))+1))
	}
	ex := t.Bucket(bktExpiry)
	ex.FillPercent = appendOnly
	if old != nil && old.Status == ordermsg.StatusPending && (o.Status != ordermsg.StatusPending || !old.ExpiresAt.Equal(o.ExpiresAt)) {
		_ = ex.Delete(expiryKey(old.ExpiresAt, o.OID))
	}
	if o.Status == ordermsg.StatusPending && (old == nil || old.Status != ordermsg.StatusPending || !old.ExpiresAt.Equal(o.ExpiresAt)) {
		if err := ex.Put(expiryKey(o.ExpiresAt, o.OID), nil); err != nil {
			return err
		}
	}
	if err := moveDone(t, old, o); err != nil {
		return err
	}
	rv := t.Bucket(bktReview)
	if o.NeedsReview() {
		if old == nil || !old.NeedsReview() {
			if err := rv.Put(oid, nil); err != nil {
				return err
			}
		}
	} else if old != nil && old.NeedsReview() {
		_ = rv.Delete(oid)
	}
	refs := t.Bucket(bktRefs)
	for _, a := range o.Attempts {
		if a.Ref == "" || a.Provider == ordermsg.ProviderCredit || a.Provider == ordermsg.ProviderLocal {
			continue
		}
		if old == nil || old.Attempt(a.N) == nil {
			if err := refs.Put([]byte(a.Ref), oid); err != nil {
				return err
			}
		}
	}
	w := t.Bucket(bktWork)
	if hasWork {
		if !hadWork {
			return w.Put(oid, nil)
		}
	} else if hadWork || w.Get(oid) != nil {
		_ = w.Delete(oid)
	}
	return nil
}

// prefixKeys lists the second parts of keys "prefix \0 x" in b.
func prefixKeys(b *bbolt.Bucket, prefix string, limit int, newestFirst bool) []string {
	p := join(prefix, "")
	var out []string
	c := b.Cursor()
	if !newestFirst {
		for k, _ := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, _ = c.Next() {
			out = append(out, string(k[len(p):]))
			if limit > 0 && len(out) >= limit {
				break
			}
		}
		return out
	}
	end := append(append([]byte{}, prefix...), 1)
	k, _ := c.Seek(end)
	if k == nil {
		k, _ = c.Last()
	} else {
		k, _ = c.Prev()
	}
	for ; k != nil && bytes.HasPrefix(k, p); k, _ = c.Prev() {
		out = append(out, string(k[len(p):]))
		if limit > 0 && len(out) >= limit {
			break
		}
	}
	return out
}

// RaiseSeq raises the stored high-water mark of oid numbers to seq.
func RaiseSeq(t *store.Tx, seq uint64) error {
	m := t.Bucket(bktMeta)
	if readU64(m.Get(keySeq)) < seq {
		return m.Put(keySeq, be64(seq))
	}
	return nil
}

// Recent returns the newest n orders, newest first.
func Recent(tx *bbolt.Tx, n int) []ordermsg.Order {
	var out []ordermsg.Order
	c := tx.Bucket(OrdersBucket).Cursor()
	for k, v := c.Last(); k != nil && len(out) < n; k, v = c.Prev() {
		if o, err := Decode(v); err == nil {
			out = append(out, *o)
		}
	}
	return out
}

// InStatus returns up to limit orders in status, newest first.
func InStatus(tx *bbolt.Tx, status string, limit int) []ordermsg.Order {
	var out []ordermsg.Order
	for _, oid := range prefixKeys(tx.Bucket(bktStatus), status, limit, true) {
		if o, err := Load(tx, oid); err == nil && o != nil {
			out = append(out, *o)
		}
	}
	return out
}

// Counts returns how many orders are in each state. needs_review counts
// every order flagged for a person, whatever its state (what Flagged
// lists): one number for one thing, the same on the page, in the API and
// in metrics.
func Counts(tx *bbolt.Tx) map[string]int {
	out := map[string]int{}
	m := tx.Bucket(bktMeta)
	for _, st := range allStatuses {
		out[st] = int(readU64(m.Get(countKey(st))))
	}
	out[ordermsg.StatusNeedsReview] = tx.Bucket(bktReview).Stats().KeyN
	return out
}

// Flagged returns every order flagged for a person, oldest first.
func Flagged(tx *bbolt.Tx) []ordermsg.Order {
	var out []ordermsg.Order
	_ = tx.Bucket(bktReview).ForEach(func(k, _ []byte) error {
		if o, err := Load(tx, string(k)); err == nil && o != nil {
			out = append(out, *o)
		}
		return nil
	})
	return out
}

// HasOrderIn reports whether openID has an order in status.
func HasOrderIn(tx *bbolt.Tx, openID, status string) (bool, error) {
	b := tx.Bucket(bktOpenID)
	if b == nil {
		return false, nil // no order was ever stored
	}
	p := join(openID, "")
	c := b.Cursor()
	for k, _ := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, _ = c.Next() {
		o, err := Load(tx, string(k[len(p):]))
		if err != nil {
			return false, err
		}
		if o != nil && o.Status == status {
			return true, nil
		}
	}
	return false, nil
}

// Due returns up to max pending orders whose expiry is at or before now,
// soonest first, and when the next one after them is due (zero if none
// or if max were returned).
func Due(tx *bbolt.Tx, now time.Time, max int) (oids []string, next time.Time) {
	limit := expiryKey(now, "\xff")
	c := tx.Bucket(bktExpiry).Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		if bytes.Compare(k, limit) > 0 {
			return oids, time.Unix(0, int64(readU64(k[:8])))
		}
		oids = append(oids, string(k[8:]))
		if len(oids) == max {
			break
		}
	}
	return oids, time.Time{}
}

// DropDue removes oid's expiry entry at or before now: one that outlived
// its order's state.
func DropDue(t *store.Tx, oid string, now time.Time) {
	limit := expiryKey(now, "\xff")
	c := t.Bucket(bktExpiry).Cursor()
	for k, _ := c.First(); k != nil && bytes.Compare(k, limit) <= 0; k, _ = c.Next() {
		if string(k[8:]) == oid {
			_ = c.Delete()
			return
		}
	}
}

// RefOrder returns the oid whose attempt has provider reference ref.
func RefOrder(tx *bbolt.Tx, ref string) string {
	return string(tx.Bucket(bktRefs).Get([]byte(ref)))
}

// TokenUsed reports whether a notify's token was already used up.
func TokenUsed(tx *bbolt.Tx, token string) bool {
	return tx.Bucket(bktTokens).Get([]byte(token)) != nil
}

// UseToken records that token's news about oid is recorded.
func UseToken(t *store.Tx, token, oid string) error {
	if err := t.Bucket(bktTokens).Put([]byte(token), []byte(oid)); err != nil {
		return err
	}
	return t.Bucket(bktTokenOID).Put(join(oid, token), nil)
}

// Owing lists the orders indexed as owing payment work.
func Owing(tx *bbolt.Tx) []string {
	var out []string
	_ = tx.Bucket(bktWork).ForEach(func(k, _ []byte) error {
		out = append(out, string(k))
		return nil
	})
	return out
}

// Settled drops oid from the work index.
func Settled(t *store.Tx, oid string) error {
	return t.Bucket(bktWork).Delete([]byte(oid))
}

// Pending returns every pending order's oid, soonest expiry first.
func Pending(tx *bbolt.Tx) []string {
	var oids []string
	tx.Bucket(bktExpiry).ForEach(func(k, _ []byte) error {
		oids = append(oids, string(k[8:]))
		return nil
	})
	return oids
}
