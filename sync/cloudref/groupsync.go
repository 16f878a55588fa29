package cloudref

import "sync"

// groupSync makes appended event-log bytes durable with one fsync for every
// batch written while the previous fsync ran (group commit), instead of one
// fsync per batch under the log's lock: with thousands of stores the
// batches would otherwise queue behind each other's fsync.
type groupSync struct {
	mu      sync.Mutex
	cond    *sync.Cond
	written int64 // bytes appended so far (set under the event lock)
	synced  int64 // bytes known durable
	syncing bool
	failAt  int64 // a failed fsync covered bytes up to here
	failErr error
	fsyncs  uint64
}

// syncer is the event log file (an interface for the tests).
type syncer interface{ Sync() error }

func newGroupSync(size int64) *groupSync {
	g := &groupSync{written: size, synced: size}
	g.cond = sync.NewCond(&g.mu)
	return g
}

// appended records that the log now holds n bytes; it returns n, the offset
// a writer then waits for.
func (g *groupSync) appended(n int64) int64 {
	g.mu.Lock()
	g.written = max(g.written, n)
	g.mu.Unlock()
	return n
}

// through blocks until every byte up to off is on disk: it joins the fsync
// under way, or starts one covering everything appended so far.
func (g *groupSync) through(f syncer, off int64) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	for g.synced < off {
		if g.failErr != nil && g.failAt >= off {
			return g.failErr
		}
		if g.syncing {
			g.cond.Wait()
			continue
		}
		g.syncing = true
		g.fsyncs++
		target := g.written
		g.mu.Unlock()
		err := f.Sync()
		g.mu.Lock()
		g.syncing = false
		if err != nil {
			g.failAt, g.failErr = target, err
		} else {
			g.synced = max(g.synced, target)
		}
		g.cond.Broadcast()
		if err != nil {
			return err
		}
	}
	return nil
}

func (g *groupSync) count() uint64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.fsyncs
}
