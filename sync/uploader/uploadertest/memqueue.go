// Package uploadertest has an in-memory uploader.Queue for tests of the
// upload path (the daemon's real queue lives in daemon/store).
package uploadertest

import (
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/storebox/storebox/protocol/ledger"
	"github.com/storebox/storebox/sync/uploader"
)

// MemQueue is a goroutine-safe in-memory outbox.
type MemQueue struct {
	mu     sync.Mutex
	events []ledger.Event // seq order
	dead   []ledger.Event
	reason []string
	seq    uint64
	notify chan struct{}
	// MaxPending records the largest batch handed out (for memory checks).
	MaxPending int
}

// NewMemQueue returns an empty queue.
func NewMemQueue() *MemQueue { return &MemQueue{notify: make(chan struct{}, 1)} }

// Append adds an event with the next seq and a stable id, and notifies.
func (q *MemQueue) Append(typ string, data any) ledger.Event {
	raw, _ := json.Marshal(data)
	q.mu.Lock()
	q.seq++
	e := ledger.Event{ID: fmt.Sprintf("ev-%d", q.seq), Seq: q.seq, Type: typ, At: time.Now().UTC().Truncate(time.Millisecond), Data: raw}
	q.events = append(q.events, e)
	q.mu.Unlock()
	select {
	case q.notify <- struct{}{}:
	default:
	}
	return e
}

func (q *MemQueue) Pending(after uint64, max, maxBytes int) ([]ledger.Event, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	i := sort.Search(len(q.events), func(i int) bool { return q.events[i].Seq > after })
	var out []ledger.Event
	size := 0
	for ; i < len(q.events) && len(out) < max; i++ {
		b, _ := json.Marshal(q.events[i])
		if len(out) > 0 && size+len(b) > maxBytes {
			break
		}
		size += len(b)
		out = append(out, q.events[i])
	}
	if len(out) > q.MaxPending {
		q.MaxPending = len(out)
	}
	return out, nil
}

func (q *MemQueue) Ack(through uint64) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	i := sort.Search(len(q.events), func(i int) bool { return q.events[i].Seq > through })
	q.events = append([]ledger.Event(nil), q.events[i:]...)
	return nil
}

func (q *MemQueue) DeadLetter(events []ledger.Event, reason string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	drop := map[uint64]bool{}
	for _, e := range events {
		drop[e.Seq] = true
		q.dead = append(q.dead, e)
		q.reason = append(q.reason, reason)
	}
	kept := q.events[:0:0]
	for _, e := range q.events {
		if !drop[e.Seq] {
			kept = append(kept, e)
		}
	}
	q.events = kept
	return nil
}

func (q *MemQueue) QueueStats() (uploader.QueueStats, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	st := uploader.QueueStats{Depth: len(q.events), DeadLetters: len(q.dead), LastSeq: q.seq}
	if len(q.events) > 0 {
		st.Oldest = q.events[0].At
	}
	return st, nil
}

func (q *MemQueue) Notify() <-chan struct{} { return q.notify }

// Dead returns the dead-lettered events and their reasons.
func (q *MemQueue) Dead() ([]ledger.Event, []string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]ledger.Event(nil), q.dead...), append([]string(nil), q.reason...)
}

var _ uploader.Queue = (*MemQueue)(nil)

// Renumber gives the queued events seqs from first on, in order, ids
// unchanged, and moves the counter past them (what a store does when it
// rebases on the cloud's last seq).
func (q *MemQueue) Renumber(first uint64) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	for i := range q.events {
		q.events[i].Seq = first + uint64(i)
	}
	q.seq = first - 1 + uint64(len(q.events))
	return len(q.events)
}
