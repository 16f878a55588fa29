package store

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"go.etcd.io/bbolt"

	"github.com/storebox/storebox/protocol/ledger"
)

// AppendEvent appends a business fact to the outbox in this transaction, so
// the fact and the state change that caused it commit or vanish together.
func (t *Tx) AppendEvent(typ string, data any) (ledger.Event, error) {
	var raw []byte
	if r, ok := data.(json.RawMessage); ok && json.Valid(r) {
		raw = r
	} else {
		var err error
		if raw, err = json.Marshal(data); err != nil {
			return ledger.Event{}, fmt.Errorf("append event %s: %w", typ, err)
		}
	}
	seq := nextSeq(t.Bucket(bktMeta), keyEventSeq)
	ev := ledger.Event{ID: newEventID(), Seq: seq, Type: typ, At: time.Now().UTC(), Data: raw}
	if err := t.Bucket(bktOutbox).Put(u64(seq), encodeEvent(ev)); err != nil {
		return ledger.Event{}, fmt.Errorf("append event %s: %w", typ, err)
	}
	t.events = true
	return ev, nil
}

// encodeEvent writes the ledger.Event JSON by hand: json.Marshal would
// re-validate and compact Data, which was just produced by json.Marshal and
// is the larger part of every order write.
func encodeEvent(ev ledger.Event) []byte {
	typ, _ := json.Marshal(ev.Type)
	b := make([]byte, 0, len(ev.Data)+len(typ)+96)
	b = append(b, `{"id":"`...)
	b = append(b, ev.ID...) // "ev_" + hex: nothing to escape
	b = append(b, `","seq":`...)
	b = strconv.AppendUint(b, ev.Seq, 10)
	b = append(b, `,"type":`...)
	b = append(b, typ...)
	b = append(b, `,"at":"`...)
	b = ev.At.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","data":`...)
	b = append(b, ev.Data...)
	return append(b, '}')
}

// AppendEvent appends one event in its own transaction (for facts that
// change no other state, such as a door decision).
func (s *Store) AppendEvent(typ string, data any) error {
	return s.Batch(func(t *Tx) error {
		_, err := t.AppendEvent(typ, data)
		return err
	})
}

// newEventID is random rather than derived from seq, so a store whose data
// directory was lost and recreated can never reuse an id the cloud has seen.
func newEventID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return "ev_" + hex.EncodeToString(b[:])
}

func (s *Store) wakeOutbox() {
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

// Notify receives (coalesced) whenever events are appended.
func (s *Store) Notify() <-chan struct{} { return s.notify }

// Pending returns events with seq > after in seq order: at most max events
// whose encodings total at most maxBytes (always at least one if any).
func (s *Store) Pending(after uint64, max, maxBytes int) ([]ledger.Event, error) {
	var out []ledger.Event
	err := s.db.View(func(tx *bbolt.Tx) error {
		c := tx.Bucket(bktOutbox).Cursor()
		size := 0
		for k, v := c.Seek(u64(after + 1)); k != nil && len(out) < max; k, v = c.Next() {
			if len(out) > 0 && size+len(v) > maxBytes {
				break
			}
			var ev ledger.Event
			if err := json.Unmarshal(v, &ev); err != nil {
				return fmt.Errorf("decode outbox event %d: %w", binary.BigEndian.Uint64(k), err)
			}
			size += len(v)
			out = append(out, ev)
		}
		return nil
	})
	return out, err
}

// Ack deletes every event with seq ≤ through.
func (s *Store) Ack(through uint64) error {
	return s.Update(func(t *Tx) error {
		c := t.Bucket(bktOutbox).Cursor()
		for k, _ := c.First(); k != nil && binary.BigEndian.Uint64(k) <= through; k, _ = c.First() {
			if err := c.Delete(); err != nil {
				return err
			}
		}
		return nil
	})
}

// DeadLetter is an event the cloud refused, kept for a person to look at.
type DeadLetter struct {
	Event  ledger.Event `json:"event"`
	Reason string       `json:"reason"`
	At     time.Time    `json:"at"`
}

// DeadLetter moves events from the outbox to the dead-letter bucket.
func (s *Store) DeadLetter(events []ledger.Event, reason string) error {
	return s.Update(func(t *Tx) error {
		ob, dl := t.Bucket(bktOutbox), t.Bucket(bktDeadLetter)
		now := time.Now().UTC()
		for _, ev := range events {
			v, err := json.Marshal(DeadLetter{Event: ev, Reason: reason, At: now})
			if err != nil {
				return err
			}
			if err := dl.Put(u64(ev.Seq), v); err != nil {
				return err
			}
			if err := ob.Delete(u64(ev.Seq)); err != nil {
				return err
			}
		}
		return nil
	})
}

// QueueStats describes the outbox.
type QueueStats struct {
	Depth       int
	Oldest      time.Time
	DeadLetters int
	LastSeq     uint64
}

// QueueStats reads the outbox's depth, oldest event time and dead letters.
func (s *Store) QueueStats() (QueueStats, error) {
	var st QueueStats
	err := s.db.View(func(tx *bbolt.Tx) error {
		ob := tx.Bucket(bktOutbox)
		st.DeadLetters = tx.Bucket(bktDeadLetter).Stats().KeyN
		if v := tx.Bucket(bktMeta).Get(keyEventSeq); len(v) == 8 {
			st.LastSeq = binary.BigEndian.Uint64(v)
		}
		// The queue is contiguous (acks and dead letters remove its head), so
		// its depth is arithmetic rather than a walk over a long queue.
		if k, v := ob.Cursor().First(); k != nil {
			st.Depth = int(st.LastSeq - binary.BigEndian.Uint64(k) + 1)
			var ev struct {
				At time.Time `json:"at"`
			}
			if json.Unmarshal(v, &ev) == nil {
				st.Oldest = ev.At
			}
		}
		return nil
	})
	return st, err
}
