package orders

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/storebox/storebox/daemon/orders/internal/orderdb"
	"github.com/storebox/storebox/daemon/store"
	"github.com/storebox/storebox/daemon/store/outbox"
)

// Retention: a finished order (paid, cancelled, expired) that closed more
// than Config.Retention ago and whose ledger events the cloud has
// acknowledged is removed with its indexes and idempotency key. Pending
// orders, orders a person must look at (needs_review or flagged), orders
// still owed payment work and orders an unsent or dead-lettered event names
// are kept. Without an upstream no event is ever acknowledged, so nothing is
// removed: the file is then the store's only record of its sales.
const (
	// pruneBatch is how many orders one transaction removes at most: a
	// few milliseconds, so terminals' orders in between are not held up.
	pruneBatch = 500
	// pruneLook is how many index entries one transaction looks at at most
	// (entries kept because of an unsent event are skipped).
	pruneLook = 5000
	// pruneRefsLimit is how many unsent events a pass reads to learn which
	// orders they name; with more queued (the cloud unreachable for weeks)
	// the pass waits for the queue to drain.
	pruneRefsLimit = 200_000
	// pruneEvery is how often the daemon prunes (and once at start).
	pruneEvery = time.Hour
	// prunePause lets other writers in between two batches.
	prunePause = 5 * time.Millisecond
)

// PruneHook removes other data kept per order (print jobs) in the
// transaction that removes order oid. It runs before the order's record is
// deleted; an error keeps the whole batch.
type PruneHook func(t *store.Tx, oid string) error

// OnPrune registers h; call it before Serve.
func (s *Service) OnPrune(h PruneHook) { s.pruneHooks = append(s.pruneHooks, h) }

// PruneResult is what one pass did.
type PruneResult struct {
	Removed int
	// Kept counts orders past the retention kept because an unsent or
	// dead-lettered event names them or payment work is still owed.
	Kept int
	// Waiting is set when the pass did nothing because the queue of unsent
	// events is longer than it reads.
	Waiting bool
	Took    time.Duration
}

// Prune removes the orders past retention at now (see Retention). It runs
// in transactions of at most pruneBatch orders and stops when ctx ends.
func (s *Service) Prune(ctx context.Context, now time.Time) (PruneResult, error) {
	start := time.Now()
	var res PruneResult
	if s.cfg.Retention <= 0 || !s.cfg.Acknowledged {
		return res, nil
	}
	cutoff := now.Add(-s.cfg.Retention)
	var from []byte
	for fresh := true; ; fresh = false {
		refs, complete, err := s.st.Outbox().OrderRefs(pruneRefsLimit)
		if err != nil {
			return res, fmt.Errorf("prune orders: %w", err)
		}
		if !complete {
			res.Waiting = true
			return res, nil
		}
		for {
			removed, kept, next, err := s.pruneOnce(&refs, cutoff, from)
			res.Removed += removed
			res.Kept += kept
			if errors.Is(err, errRenumbered) && fresh {
				break // read the renumbered queue once more and go on
			}
			if err != nil {
				res.Took = time.Since(start)
				return res, fmt.Errorf("prune orders: %w", err)
			}
			if next == nil {
				res.Took = time.Since(start)
				return res, nil
			}
			from = next
			select {
			case <-ctx.Done():
				res.Took = time.Since(start)
				return res, ctx.Err()
			case <-time.After(prunePause):
			}
		}
	}
}

// errRenumbered: the ledger's events were renumbered (a rebase after a box
// swap) while a pass ran, so the refs it read no longer tell new events.
var errRenumbered = errors.New("the ledger was renumbered during the pass")

// pruneOnce removes up to s.pruneBatch orders that closed before cutoff, in
// one transaction, walking the finish-time index from from. next is where
// the next batch goes on (nil when the walk reached the cutoff).
func (s *Service) pruneOnce(refs *outbox.OrderRefs, cutoff time.Time, from []byte) (removed, kept int, next []byte, err error) {
	err = s.keys.Update(s.st, s.st.Update, func(t *store.Tx) error {
		removed, kept, next = 0, 0, nil
		// Events appended since the refs were read (a late report on an
		// old order) count as well.
		if !s.st.Outbox().Since(t.Tx, refs) {
			return errRenumbered
		}
		done, more := orderdb.FinishedBefore(t.Tx, cutoff, from, pruneLook)
		if more {
			next = done[len(done)-1].Key
		}
		for i, d := range done {
			oid := d.OID
			if removed == s.pruneBatch {
				next = done[i-1].Key
				break
			}
			if refs.OIDs[oid] || orderdb.Owes(t.Tx, oid) {
				kept++
				continue
			}
			o, err := orderdb.Load(t.Tx, oid)
			if err != nil {
				return err
			}
			if o == nil {
				return fmt.Errorf("the finish-time index names order %s, which is missing", oid)
			}
			for _, h := range s.pruneHooks {
				if err := h(t, oid); err != nil {
					return fmt.Errorf("order %s: %w", oid, err)
				}
			}
			if err := orderdb.Remove(t, o, s.keys); err != nil {
				return err
			}
			removed++
		}
		return nil
	})
	return removed, kept, next, err
}

// servePrune prunes at start and every pruneEvery until ctx ends.
func (s *Service) servePrune(ctx context.Context) {
	if s.cfg.Retention <= 0 {
		return
	}
	if !s.cfg.Acknowledged {
		s.log.Info("orders are kept: no upstream is configured, so no ledger event is ever acknowledged and orders.retention removes nothing")
		return
	}
	t := time.NewTicker(pruneEvery)
	defer t.Stop()
	for {
		res, err := s.Prune(ctx, s.now())
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			s.log.Error("prune orders", "err", err)
		case res.Waiting:
			s.log.Warn("orders past retention are kept until the upstream queue drains", "retention", s.cfg.Retention)
		case res.Removed > 0:
			s.log.Info("pruned orders past retention", "removed", res.Removed, "kept_unacknowledged", res.Kept, "retention", s.cfg.Retention, "took", res.Took.Round(time.Millisecond))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
