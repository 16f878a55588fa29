// Package outbox is the ledger outbox inside the store's bbolt file:
// business facts appended in the write transaction of the state change
// that caused them, then read in order, acknowledged and dead-lettered by
// the uploader.
package outbox

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

var (
	bucket     = []byte("outbox")     // seq(8) → ledger.Event JSON
	deadBucket = []byte("deadletter") // seq(8) → DeadLetter JSON
)

// Buckets are the outbox's buckets, which the store creates at open.
func Buckets() [][]byte { return [][]byte{bucket, deadBucket} }

// Append appends a business fact to the outbox inside tx, so the fact and
// the state change that caused it commit or vanish together. nextSeq hands
// out the event's sequence number (the store keeps the counter).
func Append(tx *bbolt.Tx, nextSeq func() uint64, typ string, data any) (ledger.Event, error) {
	var raw []byte
	if r, ok := data.(json.RawMessage); ok && json.Valid(r) {
		raw = r
	} else {
		var err error
		if raw, err = json.Marshal(data); err != nil {
			return ledger.Event{}, fmt.Errorf("append event %s: %w", typ, err)
		}
	}
	seq := nextSeq()
	ev := ledger.Event{ID: newEventID(), Seq: seq, Type: typ, At: time.Now().UTC(), Data: raw}
	if err := tx.Bucket(bucket).Put(key(seq), encodeEvent(ev)); err != nil {
		return ledger.Event{}, fmt.Errorf("append event %s: %w", typ, err)
	}
	return ev, nil
}

func key(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }

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

// newEventID is random rather than derived from seq, so a store whose data
// directory was lost and recreated can never reuse an id the cloud has seen.
func newEventID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return "ev_" + hex.EncodeToString(b[:])
}

// DB is the store's bbolt handle; *bbolt.DB satisfies it.
type DB interface {
	View(func(*bbolt.Tx) error) error
	Update(func(*bbolt.Tx) error) error
}

// Queue reads, acknowledges and dead-letters the outbox's events.
type Queue struct {
	db      DB
	lastSeq func(*bbolt.Tx) uint64
	notify  chan struct{}
}

// New returns the outbox in db; lastSeq reads the newest sequence number
// handed out.
func New(db DB, lastSeq func(*bbolt.Tx) uint64) *Queue {
	return &Queue{db: db, lastSeq: lastSeq, notify: make(chan struct{}, 1)}
}

// Wake tells the reader that events were appended (call after commit).
func (q *Queue) Wake() {
	select {
	case q.notify <- struct{}{}:
	default:
	}
}

// Notify receives (coalesced) whenever events are appended.
func (q *Queue) Notify() <-chan struct{} { return q.notify }

// Pending returns events with seq > after in seq order: at most max events
// whose encodings total at most maxBytes (always at least one if any).
func (q *Queue) Pending(after uint64, max, maxBytes int) ([]ledger.Event, error) {
	var out []ledger.Event
	err := q.db.View(func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucket).Cursor()
		size := 0
		for k, v := c.Seek(key(after + 1)); k != nil && len(out) < max; k, v = c.Next() {
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
func (q *Queue) Ack(through uint64) error {
	return q.db.Update(func(t *bbolt.Tx) error {
		c := t.Bucket(bucket).Cursor()
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
func (q *Queue) DeadLetter(events []ledger.Event, reason string) error {
	return q.db.Update(func(t *bbolt.Tx) error {
		ob, dl := t.Bucket(bucket), t.Bucket(deadBucket)
		now := time.Now().UTC()
		for _, ev := range events {
			v, err := json.Marshal(DeadLetter{Event: ev, Reason: reason, At: now})
			if err != nil {
				return err
			}
			k := key(ev.Seq)
			if dl.Get(k) != nil {
				// A renumbered ledger (Renumber) can reuse the seq of an
				// older dead letter: keep both.
				k = append(k, ev.ID...)
			}
			if err := dl.Put(k, v); err != nil {
				return err
			}
			if err := ob.Delete(key(ev.Seq)); err != nil {
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
func (q *Queue) QueueStats() (QueueStats, error) {
	var st QueueStats
	err := q.db.View(func(tx *bbolt.Tx) error {
		ob := tx.Bucket(bucket)
		st.DeadLetters = tx.Bucket(deadBucket).Stats().KeyN
		st.LastSeq = q.lastSeq(tx)
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

// OrderRefs is what retention must know about the ledger: the orders
// (data.oid) that events not yet acknowledged name, unsent or dead-lettered.
type OrderRefs struct {
	OIDs map[string]bool
	// Through is the last sequence number handed out when they were read;
	// Since adds later events.
	Through uint64
}

// OrderRefs reads the orders that unsent and dead-lettered events name. It
// reads at most limit events and reports complete = false when there are
// more (a queue that long is left alone until it drains).
func (q *Queue) OrderRefs(limit int) (refs OrderRefs, complete bool, err error) {
	refs.OIDs = map[string]bool{}
	err = q.db.View(func(tx *bbolt.Tx) error {
		refs.Through = q.lastSeq(tx)
		n := 0
		for _, b := range [][]byte{bucket, deadBucket} {
			c := tx.Bucket(b).Cursor()
			for k, v := c.First(); k != nil; k, v = c.Next() {
				if n++; n > limit {
					return nil
				}
				addOrderRef(refs.OIDs, v)
			}
		}
		complete = true
		return nil
	})
	if err != nil {
		return OrderRefs{}, false, fmt.Errorf("read the orders unsent events name: %w", err)
	}
	return refs, complete, nil
}

// Since adds the orders that events appended after r.Through name, as tx
// sees them, and moves Through on. ok is false when the sequence went back
// (the ledger was renumbered): r no longer says which events are new.
func (q *Queue) Since(tx *bbolt.Tx, r *OrderRefs) (ok bool) {
	last := q.lastSeq(tx)
	if last < r.Through {
		return false
	}
	for _, b := range [][]byte{bucket, deadBucket} {
		c := tx.Bucket(b).Cursor()
		for k, v := c.Seek(key(r.Through + 1)); k != nil; k, v = c.Next() {
			addOrderRef(r.OIDs, v)
		}
	}
	r.Through = last
	return true
}

// addOrderRef adds the oid that an outbox or dead-letter value names.
func addOrderRef(oids map[string]bool, v []byte) {
	var ev struct {
		Data struct {
			OID string `json:"oid"`
		} `json:"data"`
		Event struct {
			Data struct {
				OID string `json:"oid"`
			} `json:"data"`
		} `json:"event"` // a DeadLetter
	}
	if json.Unmarshal(v, &ev) != nil {
		return
	}
	if ev.Data.OID != "" {
		oids[ev.Data.OID] = true
	}
	if ev.Event.Data.OID != "" {
		oids[ev.Event.Data.OID] = true
	}
}
