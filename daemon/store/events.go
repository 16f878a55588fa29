package store

import (
	"encoding/binary"

	"go.etcd.io/bbolt"

	"github.com/storebox/storebox/daemon/store/outbox"
	"github.com/storebox/storebox/protocol/ledger"
)

// AppendEvent appends a business fact to the outbox in this transaction, so
// the fact and the state change that caused it commit or vanish together.
func (t *Tx) AppendEvent(typ string, data any) (ledger.Event, error) {
	ev, err := outbox.Append(t.Tx, func() uint64 { return nextSeq(t.Bucket(bktMeta), keyEventSeq) }, typ, data)
	if err == nil {
		t.events = true
	}
	return ev, err
}

// AppendEvent appends one event in its own transaction (for facts that
// change no other state, such as a door decision).
func (s *Store) AppendEvent(typ string, data any) error {
	return s.Batch(func(t *Tx) error {
		_, err := t.AppendEvent(typ, data)
		return err
	})
}

// Outbox is the ledger outbox the uploader drains.
func (s *Store) Outbox() *outbox.Queue { return s.outbox }

// lastEventSeq is the newest event sequence number handed out.
func lastEventSeq(tx *bbolt.Tx) uint64 {
	if v := tx.Bucket(bktMeta).Get(keyEventSeq); len(v) == 8 {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}
