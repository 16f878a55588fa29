package orders

import (
	"context"
	"sync"
	"time"

	"go.etcd.io/bbolt"

	"github.com/storebox/storebox/daemon/orders/internal/orderdb"
	"github.com/storebox/storebox/daemon/payments"
	"github.com/storebox/storebox/daemon/store"
	"github.com/storebox/storebox/protocol/ordermsg"
)

func (s *Service) workFor(o *ordermsg.Order, now time.Time) map[int]payments.Work {
	return payments.WorkFor(o, now, s.cfg.LatePoll)
}

func (s *Service) needsWork(o *ordermsg.Order) bool { return len(s.workFor(o, s.now())) > 0 }

// Serve expires orders and does the outstanding provider and credit work,
// all driven from what is on disk, so a restart picks up where it stopped.
// It returns nil when ctx is cancelled.
func (s *Service) Serve(ctx context.Context) error {
	var owing []string
	if err := s.st.View(func(tx *bbolt.Tx) error { owing = orderdb.Owing(tx); return nil }); err != nil {
		return err
	}
	for _, oid := range owing {
		s.sched.Kick(oid, 0)
	}
	const workers = 4
	jobs := make(chan string)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer close(jobs)
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.servePrune(ctx)
	}()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for oid := range jobs {
				again := s.work(ctx, oid)
				s.sched.Done(oid, again, s.cfg.PollInterval, s.cfg.PollMax)
			}
		}()
	}
	for {
		now := s.now()
		nextExp, err := s.expireDue(now)
		if err != nil {
			s.log.Error("expire orders", "err", err)
		}
		due, nextDue := s.sched.Take(time.Now())
		for i, oid := range due {
			select {
			case jobs <- oid:
			case <-ctx.Done():
				for _, o := range due[i:] {
					s.sched.Done(o, false, 0, 0)
				}
				return nil
			}
		}
		wait := time.Second
		if !nextExp.IsZero() {
			wait = min(wait, nextExp.Sub(now))
		}
		if !nextDue.IsZero() {
			wait = min(wait, time.Until(nextDue))
		}
		wait = max(wait, 10*time.Millisecond)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-s.sched.Wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// expireDue expires every pending order whose time is up, and returns when
// the next one is due (zero if none).
func (s *Service) expireDue(now time.Time) (next time.Time, err error) {
	for {
		var oids []string
		err := s.st.View(func(tx *bbolt.Tx) error {
			oids, next = orderdb.Due(tx, now, 256)
			return nil
		})
		if err != nil || len(oids) == 0 {
			return next, err
		}
		err = s.commit(func(t *store.Tx) error {
			for _, oid := range oids {
				o, err := orderdb.Load(t.Tx, oid)
				if err != nil {
					return err
				}
				if o == nil || o.Status != ordermsg.StatusPending {
					orderdb.DropDue(t, oid, now) // an entry that outlived its order's state
					continue
				}
				if o.ExpiresAt.After(now) {
					continue
				}
				if _, err := s.close(t, o, ordermsg.StatusExpired, now); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return time.Time{}, err
		}
		if len(oids) < 256 {
			next = time.Time{}
			continue // one more pass finds the next due time
		}
	}
}

// work does what oid still owes and reports whether more remains.
func (s *Service) work(ctx context.Context, oid string) bool {
	unlock := s.lock(oid)
	defer unlock()
	o, err := s.load(oid)
	if err != nil {
		s.log.Error("order work", "oid", oid, "err", err)
		return false
	}
	todo := s.workFor(o, s.now())
	if len(todo) == 0 {
		if err := s.commit(func(t *store.Tx) error { return orderdb.Settled(t, oid) }); err != nil {
			s.log.Error("order work: clear", "oid", oid, "err", err)
		}
		return false
	}
	for n, kind := range todo {
		if ctx.Err() != nil {
			return true
		}
		if err := s.collect.Do(ctx, oid, n, kind); err != nil {
			s.log.Warn("order work: will retry", "oid", oid, "attempt", n, "err", err)
		}
	}
	o, err = s.load(oid)
	if err != nil {
		return true
	}
	return len(s.workFor(o, s.now())) > 0
}
