// Package keyindex finds an order by its idempotency key (equipId,
// order_id) without writing a scattered index leaf per order.
package keyindex

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"log/slog"
	"slices"
	"sync"

	"go.etcd.io/bbolt"

	"github.com/storebox/storebox/daemon/store"
)

// Index finds an order by its idempotency key (equipId, order_id).
//
// The sorted on-disk index is not written per order: a hundred
// terminals put a hundred keys far apart in it, so every commit rewrote
// about one 4 KiB leaf per order, a third of the shared transaction's time.
// Instead each new key is appended to a log (the log bucket, keyed by a bucket
// sequence, so appends touch only the tail page) and kept in memory; when
// compactAt keys have gathered, one transaction moves them into the sorted keys bucket,
// where a terminal's keys sit together and share leaves. A restart reloads
// the log, so the index loses nothing a crash left uncompacted.
//
// Keys added by a write transaction become visible to later transactions
// only once it has committed, and vanish if it rolls back. bbolt releases
// its writer lock before it returns, so a transaction that adds keys runs
// under Index.mu from begin to promotion (Update); nothing else may add
// keys.
type Index struct {
	log *slog.Logger
	// keysBucket holds the sorted index, logBucket the log.
	keysBucket, logBucket []byte
	// CompactAt is how many logged keys trigger a move into the sorted
	// index.
	CompactAt int
	mu        sync.Mutex // held by the write transaction that may add keys

	rmu    sync.RWMutex
	recent map[string]string // committed keys not yet in the keys bucket

	active *bbolt.Tx         // the write transaction inside Update
	staged map[string]string // keys it added
	logged [][]byte          // their log keys, for compaction
	// flushed says the active transaction moved the whole log into the
	// keys bucket (Remove of a key still in the log).
	flushed bool
	logs    [][]byte // log keys of recent, in log order
}

// defaultCompactAt is how many logged keys trigger a move into the keys bucket:
// enough that a terminal's keys fill leaves together, small enough that the
// move is one short transaction and the log reloads instantly.
const defaultCompactAt = 4096

// New returns an index kept in the buckets keysBucket (sorted) and
// logBucket (the log); both must exist.
func New(log *slog.Logger, keysBucket, logBucket []byte) *Index {
	return &Index{log: log, keysBucket: keysBucket, logBucket: logBucket, CompactAt: defaultCompactAt, recent: map[string]string{}, staged: map[string]string{}}
}

// Load reads the uncompacted log after a restart.
func (k *Index) Load(st *store.Store) error {
	return st.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(k.logBucket).ForEach(func(lk, v []byte) error {
			key, oid, ok := splitLogValue(v)
			if !ok {
				return fmt.Errorf("order key log entry %x is malformed", lk)
			}
			k.recent[string(key)] = string(oid)
			k.logs = append(k.logs, bytes.Clone(lk))
			return nil
		})
	})
}

// Update runs fn in a write transaction (through commit) in which keys may
// be added, and publishes or drops them once the outcome is known.
func (k *Index) Update(st *store.Store, commit func(func(*store.Tx) error) error, fn func(*store.Tx) error) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	err := commit(func(t *store.Tx) error {
		// A new attempt (a batch retried without a failed caller) starts
		// from nothing: the previous attempt rolled back.
		k.active = t.Tx
		clear(k.staged)
		k.logged = k.logged[:0]
		k.flushed = false
		return fn(t)
	})
	k.active = nil
	if err == nil && k.flushed {
		// Every key that was in the log is in the keys bucket now.
		k.rmu.Lock()
		clear(k.recent)
		k.rmu.Unlock()
		k.logs = nil
	}
	if err == nil && len(k.staged) > 0 {
		k.rmu.Lock()
		for key, oid := range k.staged {
			k.recent[key] = oid
		}
		k.rmu.Unlock()
		k.logs = append(k.logs, k.logged...)
	}
	clear(k.staged)
	k.logged = nil
	k.flushed = false
	if err != nil || len(k.logs) < k.CompactAt {
		return err
	}
	if cerr := k.compact(st); cerr != nil {
		// The keys stay logged and in memory; the next commit retries.
		k.log.Warn("order keys stay in the log", "err", cerr)
	}
	return nil
}

// Add records key → oid in the transaction inside update.
func (k *Index) Add(t *store.Tx, key []byte, oid string) error {
	if k.active != t.Tx {
		return fmt.Errorf("order key %q added outside the key index's transaction", key)
	}
	b := t.Bucket(k.logBucket)
	b.FillPercent = 0.9 // appends only: full pages
	n, err := b.NextSequence()
	if err != nil {
		return err
	}
	lk := binary.BigEndian.AppendUint64(nil, n)
	v := make([]byte, 0, 2+len(key)+len(oid))
	v = append(v, byte(len(key)>>8), byte(len(key)))
	v = append(append(v, key...), oid...)
	if err := b.Put(lk, v); err != nil {
		return err
	}
	k.staged[string(key)] = oid
	k.logged = append(k.logged, lk)
	return nil
}

// Remove deletes key in the transaction inside Update (an order that is
// removed). A key still in the log first moves the whole log into the keys
// bucket in this transaction, so the log never names a removed order.
func (k *Index) Remove(t *store.Tx, key []byte) error {
	if k.active != t.Tx {
		return fmt.Errorf("order key %q removed outside the key index's transaction", key)
	}
	if len(k.staged) > 0 {
		return fmt.Errorf("order key %q removed in a transaction that adds keys", key)
	}
	k.rmu.RLock()
	_, logged := k.recent[string(key)]
	k.rmu.RUnlock()
	if logged && !k.flushed {
		if err := k.flushTx(t); err != nil {
			return err
		}
		k.flushed = true
	}
	return t.Bucket(k.keysBucket).Delete(key)
}

// LookupTx finds the oid for key as the write transaction inside Update
// sees it (its own additions included).
func (k *Index) LookupTx(t *store.Tx, key []byte) string {
	if k.active == t.Tx {
		if oid, ok := k.staged[string(key)]; ok {
			return oid
		}
	}
	k.rmu.RLock()
	oid, ok := k.recent[string(key)]
	k.rmu.RUnlock()
	if ok {
		return oid
	}
	return string(t.Bucket(k.keysBucket).Get(key))
}

// Exists reports whether a committed order has key. It checks memory before
// it opens its read transaction: a compaction that removes the key from
// memory has committed it to the keys bucket before.
func (k *Index) Exists(st *store.Store, key []byte) bool {
	k.rmu.RLock()
	_, ok := k.recent[string(key)]
	k.rmu.RUnlock()
	if ok {
		return true
	}
	_ = st.View(func(tx *bbolt.Tx) error {
		ok = tx.Bucket(k.keysBucket).Get(key) != nil
		return nil
	})
	return ok
}

// compact moves every logged key into the keys bucket, in key order, and empties
// the log. The caller holds mu.
func (k *Index) compact(st *store.Store) error {
	err := st.Update(k.flushTx)
	if err != nil {
		return fmt.Errorf("compact order keys: %w", err)
	}
	k.rmu.Lock()
	clear(k.recent)
	k.rmu.Unlock()
	k.logs = nil
	return nil
}

// flushTx writes every logged key into the keys bucket, in key order, and
// empties the log, in t. The caller holds mu and, once t commits, forgets
// the log.
func (k *Index) flushTx(t *store.Tx) error {
	k.rmu.RLock()
	keys := make([]string, 0, len(k.recent))
	for key := range k.recent {
		keys = append(keys, key)
	}
	k.rmu.RUnlock()
	slices.Sort(keys)
	kb := t.Bucket(k.keysBucket)
	for _, key := range keys {
		if err := kb.Put([]byte(key), []byte(k.recent[key])); err != nil {
			return err
		}
	}
	lb := t.Bucket(k.logBucket)
	for _, lk := range k.logs {
		if err := lb.Delete(lk); err != nil {
			return err
		}
	}
	return nil
}

func splitLogValue(v []byte) (key, oid []byte, ok bool) {
	if len(v) < 2 {
		return nil, nil, false
	}
	n := int(v[0])<<8 | int(v[1])
	if len(v) < 2+n {
		return nil, nil, false
	}
	return v[2 : 2+n], v[2+n:], true
}
