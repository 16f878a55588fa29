package store

import (
	"encoding/binary"
	"encoding/json"
	"fmt"

	"go.etcd.io/bbolt"

	"github.com/storebox/storebox/protocol/ordermsg"
)

// A migration moves a file from schema to-1 to schema to. Each one is a
// record of the layout at its version and never changes afterwards, so it
// writes the buckets by name instead of calling the code that writes them
// today. Open runs the ones a file needs in its opening transaction: the
// file is upgraded whole or not at all.
type migration struct {
	to    uint32
	what  string
	apply func(tx *bbolt.Tx) error
}

var migrations = []migration{
	{2, "orders by finish time and notify tokens by order (retention)", migrateOrderRetention},
}

// migrate upgrades tx's file from schema from to SchemaVersion.
func (s *Store) migrate(tx *bbolt.Tx, from uint32) error {
	for _, m := range migrations {
		if m.to <= from || m.to > SchemaVersion {
			continue
		}
		if err := m.apply(tx); err != nil {
			return fmt.Errorf("upgrade store %s to schema %d (%s): %w; the file was not changed", s.path, m.to, m.what, err)
		}
		s.log.Info("store upgraded", "schema", m.to, "what", m.what)
	}
	return nil
}

// migrateOrderRetention (schema 2) indexes the finished orders by the time
// they closed (ord_done: be64(unix ns) oid → nil, for paid, cancelled and
// expired orders no one must look at) and the processed notify tokens by
// order (ord_tokenoid: oid \0 token → nil), so retention finds old orders
// and everything that names them without a walk over all of them.
func migrateOrderRetention(tx *bbolt.Tx) error {
	orders := tx.Bucket([]byte("ord_orders"))
	if orders == nil {
		return nil // no order was ever stored; the orders create the buckets
	}
	done, err := tx.CreateBucketIfNotExists([]byte("ord_done"))
	if err != nil {
		return err
	}
	byOrder, err := tx.CreateBucketIfNotExists([]byte("ord_tokenoid"))
	if err != nil {
		return err
	}
	err = orders.ForEach(func(k, v []byte) error {
		var o ordermsg.Order
		if err := json.Unmarshal(v, &o); err != nil {
			return fmt.Errorf("order %s: %w", k, err)
		}
		switch o.Status {
		case ordermsg.StatusPaid, ordermsg.StatusCancelled, ordermsg.StatusExpired:
		default:
			return nil
		}
		if o.NeedsReview() {
			return nil
		}
		at := o.CreatedAt
		if o.ClosedAt != nil {
			at = *o.ClosedAt
		}
		key := binary.BigEndian.AppendUint64(nil, uint64(at.UnixNano()))
		return done.Put(append(key, k...), nil)
	})
	if err != nil {
		return err
	}
	tokens := tx.Bucket([]byte("ord_tokens"))
	if tokens == nil {
		return nil
	}
	return tokens.ForEach(func(token, oid []byte) error {
		k := make([]byte, 0, len(oid)+1+len(token))
		k = append(append(append(k, oid...), 0), token...)
		return byOrder.Put(k, nil)
	})
}
