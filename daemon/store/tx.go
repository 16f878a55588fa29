package store

import (
	"go.etcd.io/bbolt"

	"github.com/storebox/storebox/protocol/goods"
)

// Tx is a write transaction that also collects what must happen after it
// commits: in-memory index updates, goods-changed notifications and the
// outbox wake-up. Nothing here runs if the transaction rolls back.
type Tx struct {
	*bbolt.Tx
	s       *Store
	after   []func()
	changed map[string]bool
	events  bool
	// bulk skips per-row index upkeep; the caller rebuilds after commit.
	bulk bool
}

// After runs fn once the transaction has committed.
func (t *Tx) After(fn func()) { t.after = append(t.after, fn) }

// MarkChanged records that a goods visible to labels changed.
func (t *Tx) MarkChanged(gid string) {
	if t.changed == nil {
		t.changed = map[string]bool{}
	}
	t.changed[gid] = true
}

// version orders this change among all changes to the in-memory index:
// the write transaction's id, then the change's place in it. Hooks run
// after bbolt releases its writer lock, and callers sharing a Batch run
// their hooks each in their own goroutine, so hooks can arrive out of
// order; the index keeps the newest version per goods.
func (t *Tx) version() uint64 {
	id := uint64(t.ID())
	for {
		cur := t.s.ver.Load()
		next := id<<32 | 1
		if cur>>32 == id {
			next = cur + 1
		}
		if t.s.ver.CompareAndSwap(cur, next) {
			return next
		}
	}
}

// scanVersion is the version of what a read transaction sees: every change
// of the write transactions up to its id.
func scanVersion(tx *bbolt.Tx) uint64 { return uint64(tx.ID())<<32 | 1<<32 - 1 }

// Store returns the store the transaction belongs to.
func (t *Tx) Store() *Store { return t.s }

// Update runs fn in a write transaction.
func (s *Store) Update(fn func(*Tx) error) error { return s.write(s.db.Update, fn) }

// Batch runs fn in a write transaction shared with concurrent callers
// (bbolt's Batch: one fsync for many small writes). fn may run more than
// once, so it must have no side effects outside the transaction.
func (s *Store) Batch(fn func(*Tx) error) error { return s.write(s.db.Batch, fn) }

// write runs fn through bbolt's Update or Batch and, once committed, what
// the transaction left for after.
func (s *Store) write(run func(func(*bbolt.Tx) error) error, fn func(*Tx) error) error {
	var t *Tx
	err := run(func(btx *bbolt.Tx) error {
		t = &Tx{Tx: btx, s: s}
		return fn(t)
	})
	if err != nil {
		return err
	}
	s.committed(t)
	return nil
}

// View runs fn in a read transaction.
func (s *Store) View(fn func(*bbolt.Tx) error) error { return s.db.View(fn) }

func (s *Store) committed(t *Tx) {
	for _, fn := range t.after {
		fn()
	}
	if t.events {
		s.outbox.Wake()
	}
	if len(t.changed) == 0 {
		return
	}
	s.hooks.mu.Lock()
	subs := append([]func([]goods.Goods){}, s.hooks.goodsChanged...)
	s.hooks.mu.Unlock()
	if len(subs) == 0 {
		return
	}
	var changed []goods.Goods
	_ = s.db.View(func(tx *bbolt.Tx) error {
		for gid := range t.changed {
			if g, ok, err := s.GoodsTx(tx, gid); err == nil && ok {
				changed = append(changed, g)
			}
		}
		return nil
	})
	for _, fn := range subs {
		fn(changed)
	}
}
