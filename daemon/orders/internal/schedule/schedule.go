// Package schedule says when each order that owes payment work is next
// looked at: at once after a kick, then with a capped exponential backoff
// per order while the work stays undone.
package schedule

import (
	"sync"
	"time"

	"github.com/storebox/storebox/internal/backoff"
)

// Schedule keeps when each order with outstanding work is next looked at,
// with a capped exponential backoff per order.
type Schedule struct {
	mu      sync.Mutex
	due     map[string]time.Time
	tries   map[string]int // runs since the last kick that left work
	running map[string]bool
	// Wake receives when a kick may have made something due sooner.
	Wake chan struct{}
}

// New returns an empty schedule.
func New() *Schedule {
	return &Schedule{due: map[string]time.Time{}, tries: map[string]int{}, running: map[string]bool{}, Wake: make(chan struct{}, 1)}
}

// Kick asks for oid to be looked at within after (sooner if already due
// sooner) and restarts its backoff.
func (sc *Schedule) Kick(oid string, after time.Duration) {
	at := time.Now().Add(after)
	sc.mu.Lock()
	if d, ok := sc.due[oid]; !ok || at.Before(d) {
		sc.due[oid] = at
	}
	delete(sc.tries, oid)
	sc.mu.Unlock()
	select {
	case sc.Wake <- struct{}{}:
	default:
	}
}

// Take returns the orders due at now and not running, marking them running.
func (sc *Schedule) Take(now time.Time) (oids []string, next time.Time) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	for oid, d := range sc.due {
		if sc.running[oid] {
			continue
		}
		if !d.After(now) {
			oids = append(oids, oid)
			sc.running[oid] = true
			delete(sc.due, oid)
			continue
		}
		if next.IsZero() || d.Before(next) {
			next = d
		}
	}
	return oids, next
}

// Done reschedules oid after a run: again with backoff, or forgotten.
func (sc *Schedule) Done(oid string, again bool, min, max time.Duration) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	delete(sc.running, oid)
	if !again {
		delete(sc.tries, oid)
		return
	}
	d := backoff.Policy{Min: min, Max: max}.Delay(sc.tries[oid])
	sc.tries[oid]++
	if cur, ok := sc.due[oid]; !ok || time.Now().Add(d).Before(cur) {
		sc.due[oid] = time.Now().Add(d)
	}
}
