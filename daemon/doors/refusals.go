package doors

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// DefaultRefusalSummary is how often repeated refusals of a door's MQTT
// connections are summed up in the log.
const DefaultRefusalSummary = time.Minute

// maxRefusalDoors bounds the names remembered: a spray of made-up door
// names is summed up under one entry beyond it.
const maxRefusalDoors = 1000

// otherDoors is the entry for refusals beyond maxRefusalDoors names.
const otherDoors = "(other names)"

// refusals keeps the log of refused MQTT connections short: a door that
// retries with a wrong secret every second would write 86,400 lines a
// day. The first refusal of a door is logged at once; later ones are
// counted and summed up once per period for each door; a door with no
// refusal for a whole period starts over with a first one.
type refusals struct {
	log   *slog.Logger
	every time.Duration

	mu    sync.Mutex
	doors map[string]*refusalCount
}

type refusalCount struct {
	n              uint64
	remote, reason string // the last ones
}

func newRefusals(log *slog.Logger, every time.Duration) *refusals {
	if every <= 0 {
		every = DefaultRefusalSummary
	}
	return &refusals{log: log, every: every, doors: map[string]*refusalCount{}}
}

// refused notes one refused connection of door.
func (r *refusals) refused(door, remote, reason string) {
	r.mu.Lock()
	c, ok := r.doors[door]
	if !ok && len(r.doors) >= maxRefusalDoors {
		door = otherDoors
		c, ok = r.doors[door]
	}
	if ok {
		c.n++
		c.remote, c.reason = remote, reason
		r.mu.Unlock()
		return
	}
	r.doors[door] = &refusalCount{}
	r.mu.Unlock()
	r.log.Info("mqtt connection refused (repeats are summed up every "+r.every.String()+")", "door", door, "remote", remote, "reason", reason)
}

// summarise logs each door's refusals since the last summary and forgets
// the doors that had none.
func (r *refusals) summarise() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for door, c := range r.doors {
		if c.n == 0 {
			delete(r.doors, door)
			continue
		}
		r.log.Info("mqtt connections refused again", "door", door, "count", c.n, "within", r.every.String(), "last_remote", c.remote, "last_reason", c.reason)
		c.n = 0
	}
}

// run sums up every period until ctx ends.
func (r *refusals) run(ctx context.Context) {
	t := time.NewTicker(r.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r.summarise()
		}
	}
}
