package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"go.etcd.io/bbolt"

	"github.com/storebox/storebox/daemon/store/outbox"
)

// The ledger's numbering follows the cloud's after a box swap (UPSTREAM.md §3): a
// file that is new or restored from a backup carries keyRebaseDue until
// the cloud has told its last seq and the unsent events were renumbered
// above it; keyRebased records the last rebase for the fleet's
// ledger_rebased alert.
var (
	keyRebaseDue = []byte("ledger.rebase_due") // why: "new" or "restored"
	keyRebased   = []byte("ledger.rebased")    // LedgerRebase JSON
	// keyFreshIDs: restored from a backup, so prefixes minted per data
	// directory (the oids') are minted again (TakeFreshIDs).
	keyFreshIDs = []byte("restored.fresh_ids")
)

// TakeFreshIDs reports, once, that the file was restored from a backup:
// the box the backup came from went on issuing ids after it (oids, and
// with them provider order numbers), so a prefix minted per data
// directory must be minted again.
func (t *Tx) TakeFreshIDs() (bool, error) {
	meta := t.Bucket(bktMeta)
	if meta.Get(keyFreshIDs) == nil {
		return false, nil
	}
	return true, meta.Delete(keyFreshIDs)
}

// LedgerRebase is what a rebase did.
type LedgerRebase struct {
	Reason    string    `json:"reason"`     // "new" or "restored"
	CloudLast uint64    `json:"cloud_last"` // the cloud's last seq for the store
	FirstSeq  uint64    `json:"first_seq"`  // the first seq after the rebase
	Events    int       `json:"events"`     // unsent events renumbered
	OldFirst  uint64    `json:"old_first,omitempty"`
	At        time.Time `json:"at"`
	// Changed: the numbering moved (the cloud held seqs of another box, or
	// fewer than this file counted). A first box of a new store, or a
	// restore of the newest backup, finds its numbering already right.
	Changed bool `json:"changed"`
}

// RebaseDue reports why the ledger's numbering must still follow the
// cloud's ("new", "restored"), or "" when it need not.
func (s *Store) RebaseDue() (string, error) {
	var why string
	err := s.db.View(func(tx *bbolt.Tx) error {
		why = string(tx.Bucket(bktMeta).Get(keyRebaseDue))
		return nil
	})
	return why, err
}

// RebaseLedger numbers the unsent events from cloudLast+1 in their order
// (ids unchanged), moves the event counter to the last of them, and clears
// the due mark, in one transaction. Without a due mark it does nothing and
// reports false.
func (s *Store) RebaseLedger(cloudLast uint64) (LedgerRebase, bool, error) {
	var rb LedgerRebase
	done := false
	err := s.db.Update(func(tx *bbolt.Tx) error {
		meta := tx.Bucket(bktMeta)
		why := meta.Get(keyRebaseDue)
		if why == nil {
			return nil
		}
		r, err := outbox.Renumber(tx, cloudLast+1)
		if err != nil {
			return err
		}
		oldCounter := lastEventSeq(tx)
		counter := cloudLast
		if r.Events > 0 {
			counter = r.Last
		}
		if err := meta.Put(keyEventSeq, u64(counter)); err != nil {
			return err
		}
		rb = LedgerRebase{Reason: string(why), CloudLast: cloudLast, FirstSeq: cloudLast + 1, Events: r.Events, OldFirst: r.OldFirst,
			At: time.Now().UTC(), Changed: counter != oldCounter}
		if rb.Changed {
			v, _ := json.Marshal(rb)
			if err := meta.Put(keyRebased, v); err != nil {
				return err
			}
		}
		done = true
		return meta.Delete(keyRebaseDue)
	})
	if err != nil {
		return LedgerRebase{}, false, fmt.Errorf("rebase ledger above seq %d: %w", cloudLast, err)
	}
	if done && rb.Events > 0 {
		s.outbox.Wake()
	}
	return rb, done, nil
}

// LastLedgerRebase returns the last rebase that changed the numbering, if
// there was one.
func (s *Store) LastLedgerRebase() (LedgerRebase, bool, error) {
	var rb LedgerRebase
	ok := false
	err := s.db.View(func(tx *bbolt.Tx) error {
		if v := tx.Bucket(bktMeta).Get(keyRebased); v != nil {
			ok = json.Unmarshal(v, &rb) == nil
		}
		return nil
	})
	return rb, ok, err
}

// MarkRestored marks the store file in dataDir (not open elsewhere) as
// restored from a backup: before its next upload the daemon asks the cloud
// for the store's last seq and numbers its unsent events above it.
func MarkRestored(dataDir string) error {
	path := filepath.Join(dataDir, FileName)
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("mark %s restored: %w", path, err)
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second, FreelistType: bbolt.FreelistMapType})
	if err != nil {
		return fmt.Errorf("mark %s restored: %w", path, err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		meta := tx.Bucket(bktMeta)
		if meta == nil {
			return ErrNotStore
		}
		if err := meta.Put(keyFreshIDs, []byte("1")); err != nil {
			return err
		}
		return meta.Put(keyRebaseDue, []byte("restored"))
	})
	return errors.Join(err, db.Close())
}
