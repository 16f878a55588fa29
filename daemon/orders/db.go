package orders

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
	bktOrders = []byte("ord_orders") // oid → ordermsg.Order JSON
	bktKeys   = []byte("ord_keys")   // equipId \0 order_id → oid, compacted from the log
	bktKeyLog = []byte("ord_keylog") // sequence → len16 key, oid: keys not yet in bktKeys
	bktExpiry = []byte("ord_expiry") // be64(expires unix ns) oid → nil, pending orders only
	bktStatus = []byte("ord_status") // status \0 oid → nil
	bktReview = []byte("ord_review") // oid → nil
	bktOpenID = []byte("ord_openid") // openId \0 oid → nil
	bktRefs   = []byte("ord_refs")   // provider order number → oid
	bktTokens = []byte("ord_tokens") // processed PayToken → oid
	bktWork   = []byte("ord_work")   // oid → nil: polling, capture or release outstanding
	bktMeta   = []byte("ord_meta")
	buckets   = [][]byte{bktOrders, bktKeys, bktKeyLog, bktExpiry, bktStatus, bktReview, bktOpenID, bktRefs, bktTokens, bktWork, bktMeta}

	keyInstance = []byte("instance")
	keySeq      = []byte("seq")
)

var allStatuses = []string{ordermsg.StatusPending, ordermsg.StatusPaid, ordermsg.StatusCancelled, ordermsg.StatusExpired, ordermsg.StatusNeedsReview}

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

// openBuckets creates the buckets and the instance prefix of oids. The
// prefix is random per data directory, so a store whose data was lost never
// reuses an oid, and with it a provider order number already paid.
func openBuckets(st *store.Store) (instance string, seq uint64, err error) {
	err = st.Update(func(t *store.Tx) error {
		for _, b := range buckets {
			if _, err := t.CreateBucketIfNotExists(b); err != nil {
				return fmt.Errorf("create bucket %s: %w", b, err)
			}
		}
		m := t.Bucket(bktMeta)
		seq = readU64(m.Get(keySeq))
		if v := m.Get(keyInstance); v != nil {
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

func loadOrder(tx *bbolt.Tx, oid string) (*ordermsg.Order, error) {
	v := tx.Bucket(bktOrders).Get([]byte(oid))
	if v == nil {
		return nil, nil
	}
	o, err := decode(v)
	if err != nil {
		return nil, fmt.Errorf("decode order %s: %w", oid, err)
	}
	return o, nil
}

func decode(v []byte) (*ordermsg.Order, error) {
	o := new(ordermsg.Order)
	if err := json.Unmarshal(v, o); err != nil {
		return nil, err
	}
	return o, nil
}

// saveOrder writes o and moves every index from what old said to what o
// says (old is nil for a new order). It is the only writer of orders.
func saveOrder(t *store.Tx, old, o *ordermsg.Order, s *Service) error {
	v, err := json.Marshal(o)
	if err != nil {
		return fmt.Errorf("encode order %s: %w", o.OID, err)
	}
	return saveOrderJSON(t, old, o, v, s)
}

// appendOnly is the fill for buckets whose keys mostly grow (oids, times):
// full pages instead of half-full ones after a split.
const appendOnly = 0.9

// saveOrderJSON is saveOrder with o already encoded as v.
func saveOrderJSON(t *store.Tx, old, o *ordermsg.Order, v []byte, s *Service) error {
	oid := []byte(o.OID)
	ob := t.Bucket(bktOrders)
	ob.FillPercent = appendOnly
	if err := ob.Put(oid, v); err != nil {
		return err
	}
	st, m := t.Bucket(bktStatus), t.Bucket(bktMeta)
	st.FillPercent = appendOnly
	if old == nil {
		if err := s.keys.Add(t, join(o.EquipID, o.OrderID), o.OID); err != nil {
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
		if a.Ref == "" || a.Provider == providerCredit || a.Provider == providerLocal {
			continue
		}
		if old == nil || old.Attempt(a.N) == nil {
			if err := refs.Put([]byte(a.Ref), oid); err != nil {
				return err
			}
		}
	}
	w := t.Bucket(bktWork)
	hadWork := old != nil && s.needsWork(old)
	if todo := s.workFor(o, s.now()); len(todo) > 0 {
		if !hadWork {
			if err := w.Put(oid, nil); err != nil {
				return err
			}
		}
		after := s.cfg.PollInterval
		for _, k := range todo {
			if k != workPoll {
				after = 0
			}
		}
		id := o.OID
		t.After(func() { s.sched.kick(id, after) })
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
