// Package groupcommit lets concurrent writers share one bbolt transaction
// and its fsync (the order service's durability, paid once per batch).
package groupcommit

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/storebox/storebox/daemon/store"
)

// Group runs concurrent write functions together: while one
// transaction commits (and fsyncs), the functions that arrive queue up and
// then share the next transaction. A lone caller commits at once. Under
// load, the callers the previous commit released usually come straight
// back, so the next batch waits a moment for them — a quarter of the last
// commit's duration, at most gatherMax: one fsync then serves every busy
// terminal instead of half of them, and the wait is small next to the
// fsync it saves.
//
// As with bbolt's Batch, a function may run more than once (when another
// function of its batch fails, the batch is retried without it), so it must
// have no effects outside the transaction other than through Tx.After.
type Group struct {
	update  func(func(*store.Tx) error) error
	mu      sync.Mutex
	queue   []*commitCall
	running bool
	arrived chan struct{}

	// Batches and Calls count commits and the functions they carried.
	Batches, Calls atomic.Int64
}

type commitCall struct {
	fn   func(*store.Tx) error
	done chan error
}

const (
	// maxGroup bounds one transaction, so a flood cannot build a huge one.
	maxGroup = 512
	// gatherMax bounds how long a batch waits for released callers.
	gatherMax = 5 * time.Millisecond
)

// New commits through update (the store's Update, wrapped).
func New(update func(func(*store.Tx) error) error) *Group {
	return &Group{update: update, arrived: make(chan struct{}, 1)}
}

// Do runs fn in the next shared transaction and returns its outcome.
func (g *Group) Do(fn func(*store.Tx) error) error {
	c := &commitCall{fn: fn, done: make(chan error, 1)}
	g.mu.Lock()
	g.queue = append(g.queue, c)
	if !g.running {
		g.running = true
		go g.loop()
	}
	g.mu.Unlock()
	select {
	case g.arrived <- struct{}{}:
	default:
	}
	return <-c.done
}

func (g *Group) loop() {
	released := 0
	var took time.Duration
	var timer *time.Timer
	for {
		g.mu.Lock()
		if target := min(len(g.queue)+released, maxGroup); released > 1 && len(g.queue) < target {
			deadline := time.Now().Add(min(took/4, gatherMax))
			for len(g.queue) < target {
				wait := time.Until(deadline)
				if wait <= 0 {
					break
				}
				g.mu.Unlock()
				if timer == nil {
					timer = time.NewTimer(wait)
				} else {
					timer.Reset(wait)
				}
				select {
				case <-g.arrived:
				case <-timer.C:
				}
				timer.Stop()
				g.mu.Lock()
			}
		}
		n := min(len(g.queue), maxGroup)
		if n == 0 {
			g.running = false
			g.mu.Unlock()
			return
		}
		batch := append([]*commitCall(nil), g.queue[:n]...)
		g.queue = g.queue[n:]
		g.mu.Unlock()
		g.Batches.Add(1)
		g.Calls.Add(int64(n))
		t0 := time.Now()
		g.run(batch)
		took = time.Since(t0)
		released = n
	}
}

func (g *Group) run(batch []*commitCall) {
	for len(batch) > 0 {
		failed := -1
		var ferr error
		err := g.update(func(t *store.Tx) error {
			for i, c := range batch {
				if err := safeCall(c.fn, t); err != nil {
					failed, ferr = i, err
					return err
				}
			}
			return nil
		})
		if err == nil {
			for _, c := range batch {
				c.done <- nil
			}
			return
		}
		if failed < 0 {
			// The commit itself failed (disk full, I/O error): nobody's
			// write is on disk.
			for _, c := range batch {
				c.done <- err
			}
			return
		}
		batch[failed].done <- ferr
		batch = append(batch[:failed:failed], batch[failed+1:]...)
	}
}

// safeCall turns a panic in one caller's function into that caller's
// error, so it cannot take down the commit loop and everyone waiting on it.
func safeCall(fn func(*store.Tx) error, t *store.Tx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("transaction panicked: %v", r)
		}
	}()
	return fn(t)
}
