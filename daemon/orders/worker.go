package orders

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"time"

	"go.etcd.io/bbolt"

	"github.com/storebox/storebox/daemon/store"
	"github.com/storebox/storebox/protocol/ledger"
	"github.com/storebox/storebox/protocol/ordermsg"
	"github.com/storebox/storebox/sync/upstream"
)

// Work an order may still owe after its reply: polling a provider payment,
// capturing a credit hold, releasing one.
type workKind int

const (
	workPoll workKind = iota + 1
	workCapture
	workRelease
)

// workFor lists what attempt-by-attempt work o needs at now.
func (s *Service) workFor(o *ordermsg.Order, now time.Time) map[int]workKind {
	var out map[int]workKind
	add := func(n int, k workKind) {
		if out == nil {
			out = map[int]workKind{}
		}
		out[n] = k
	}
	for _, a := range o.Attempts {
		switch a.Provider {
		case providerLocal:
		case providerCredit:
			switch {
			case a.State == ordermsg.AttemptPaid && o.PaidBy == a.N && !a.Settled:
				add(a.N, workCapture)
			case a.State != ordermsg.AttemptPaid && o.Final() && !a.Released:
				add(a.N, workRelease)
			}
		default:
			switch a.State {
			case ordermsg.AttemptSending, ordermsg.AttemptOpen, ordermsg.AttemptSuperseded:
				if o.Status == ordermsg.StatusPending || (o.ClosedAt != nil && now.Sub(*o.ClosedAt) < s.cfg.LatePoll) {
					add(a.N, workPoll)
				}
			}
		}
	}
	return out
}

func (s *Service) needsWork(o *ordermsg.Order) bool { return len(s.workFor(o, s.now())) > 0 }

// scheduler keeps when each order with outstanding work is next looked at,
// with a capped exponential backoff per order.
type scheduler struct {
	mu      sync.Mutex
	due     map[string]time.Time
	delay   map[string]time.Duration
	running map[string]bool
	wake    chan struct{}
}

func newScheduler() *scheduler {
	return &scheduler{due: map[string]time.Time{}, delay: map[string]time.Duration{}, running: map[string]bool{}, wake: make(chan struct{}, 1)}
}

// kick asks for oid to be looked at within after (sooner if already due
// sooner) and restarts its backoff.
func (sc *scheduler) kick(oid string, after time.Duration) {
	at := time.Now().Add(after)
	sc.mu.Lock()
	if d, ok := sc.due[oid]; !ok || at.Before(d) {
		sc.due[oid] = at
	}
	delete(sc.delay, oid)
	sc.mu.Unlock()
	select {
	case sc.wake <- struct{}{}:
	default:
	}
}

// take returns the orders due at now and not running, marking them running.
func (sc *scheduler) take(now time.Time) (oids []string, next time.Time) {
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

// done reschedules oid after a run: again with backoff, or forgotten.
func (sc *scheduler) done(oid string, again bool, min, max time.Duration) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	delete(sc.running, oid)
	if !again {
		delete(sc.delay, oid)
		return
	}
	d := sc.delay[oid] * 2
	if d < min {
		d = min
	}
	if d > max {
		d = max
	}
	sc.delay[oid] = d
	if cur, ok := sc.due[oid]; !ok || time.Now().Add(d).Before(cur) {
		sc.due[oid] = time.Now().Add(d)
	}
}

// Serve expires orders and does the outstanding provider and credit work,
// all driven from what is on disk, so a restart picks up where it stopped.
// It returns nil when ctx is cancelled.
func (s *Service) Serve(ctx context.Context) error {
	err := s.st.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bktWork).ForEach(func(k, _ []byte) error {
			s.sched.kick(string(k), 0)
			return nil
		})
	})
	if err != nil {
		return err
	}
	const workers = 4
	jobs := make(chan string)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer close(jobs)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for oid := range jobs {
				again := s.work(ctx, oid)
				s.sched.done(oid, again, s.cfg.PollInterval, s.cfg.PollMax)
			}
		}()
	}
	for {
		now := s.now()
		nextExp, err := s.expireDue(now)
		if err != nil {
			s.log.Error("expire orders", "err", err)
		}
		due, nextDue := s.sched.take(time.Now())
		for i, oid := range due {
			select {
			case jobs <- oid:
			case <-ctx.Done():
				for _, o := range due[i:] {
					s.sched.done(o, false, 0, 0)
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
		case <-s.sched.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// expireDue expires every pending order whose time is up, and returns when
// the next one is due (zero if none).
func (s *Service) expireDue(now time.Time) (next time.Time, err error) {
	limit := expiryKey(now, "\xff")
	for {
		var oids []string
		next = time.Time{}
		err := s.st.View(func(tx *bbolt.Tx) error {
			c := tx.Bucket(bktExpiry).Cursor()
			for k, _ := c.First(); k != nil; k, _ = c.Next() {
				if bytes.Compare(k, limit) > 0 {
					next = time.Unix(0, int64(readU64(k[:8])))
					break
				}
				oids = append(oids, string(k[8:]))
				if len(oids) == 256 {
					break
				}
			}
			return nil
		})
		if err != nil || len(oids) == 0 {
			return next, err
		}
		err = s.commit(func(t *store.Tx) error {
			for _, oid := range oids {
				o, err := loadOrder(t.Tx, oid)
				if err != nil {
					return err
				}
				if o == nil || o.Status != ordermsg.StatusPending {
					// An index entry that outlived its order's state.
					c := t.Bucket(bktExpiry).Cursor()
					for k, _ := c.First(); k != nil && bytes.Compare(k, limit) <= 0; k, _ = c.Next() {
						if string(k[8:]) == oid {
							_ = c.Delete()
							break
						}
					}
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
		if err := s.commit(func(t *store.Tx) error { return t.Bucket(bktWork).Delete([]byte(oid)) }); err != nil {
			s.log.Error("order work: clear", "oid", oid, "err", err)
		}
		return false
	}
	for n, kind := range todo {
		if ctx.Err() != nil {
			return true
		}
		var err error
		switch kind {
		case workPoll:
			err = s.poll(ctx, oid, n)
		case workCapture:
			err = s.capture(ctx, oid, n)
		case workRelease:
			err = s.release(ctx, oid, n)
		}
		if err != nil {
			s.log.Warn("order work: will retry", "oid", oid, "attempt", n, "err", err)
		}
	}
	o, err = s.load(oid)
	if err != nil {
		return true
	}
	return len(s.workFor(o, s.now())) > 0
}

func (s *Service) poll(ctx context.Context, oid string, n int) error {
	o, err := s.load(oid)
	if err != nil {
		return err
	}
	a := o.Attempt(n)
	if s.pay == nil || s.pay.Name() != a.Provider {
		return nil
	}
	r, err := s.pay.Query(ctx, a.Ref)
	if err != nil {
		return err
	}
	_, err = s.update(oid, func(t *store.Tx, old *ordermsg.Order) (*ordermsg.Order, error) {
		return s.applyReport(t, old, n, r, s.now())
	})
	return err
}

func (s *Service) capture(ctx context.Context, oid string, n int) error {
	o, err := s.load(oid)
	if err != nil || s.credit == nil {
		return err
	}
	a := o.Attempt(n)
	cerr := s.credit.Capture(ctx, a.Token, o.AmountTotal)
	if cerr != nil && (upstream.IsRetryable(cerr) || ctx.Err() != nil) {
		return cerr
	}
	_, err = s.update(oid, func(t *store.Tx, old *ordermsg.Order) (*ordermsg.Order, error) {
		next := old.Clone()
		at := next.Attempt(n)
		at.Settled = true
		if cerr != nil {
			at.Error = "capture refused: " + cerr.Error()
			reason := "the credit capture was refused (" + cerr.Error() + "); the goods were handed over without the credit being taken"
			next.Flag(reason, s.now())
			if err := event(t, ledger.OrderReview, next, at, reason); err != nil {
				return nil, err
			}
		}
		return next, saveOrder(t, old, next, s)
	})
	return err
}

func (s *Service) release(ctx context.Context, oid string, n int) error {
	o, err := s.load(oid)
	if err != nil || s.credit == nil {
		return err
	}
	a := o.Attempt(n)
	token := a.Token
	if token == "" {
		// The authorization's reply was lost: the cloud dedupes holds by
		// order id, so asking again names the same hold (or makes one we
		// cancel at once). Never when another attempt holds a token: that
		// is the same hold and it may be the one that paid.
		shared := false
		for _, b := range o.Attempts {
			if b.Provider == providerCredit && b.Token != "" {
				shared = true
			}
		}
		if !shared {
			tok, err := s.credit.Authorize(ctx, a.Account, o.AmountTotal, o.OID, time.Minute)
			switch {
			case err == nil:
				token = tok
			case upstream.IsRetryable(err) || ctx.Err() != nil:
				return err
			}
		}
	}
	var cerr error
	if token != "" {
		cerr = s.credit.Cancel(ctx, token)
		if cerr != nil && (upstream.IsRetryable(cerr) || ctx.Err() != nil) {
			return cerr
		}
	}
	_, err = s.update(oid, func(t *store.Tx, old *ordermsg.Order) (*ordermsg.Order, error) {
		next := old.Clone()
		at := next.Attempt(n)
		at.Released = true
		if cerr != nil {
			at.Error = "release refused: " + cerr.Error()
			var rej *upstream.RejectedError
			if errors.As(cerr, &rej) && rej.Status == 409 {
				reason := "a credit hold of this order was captured although the order is " + old.Status + ": " + cerr.Error()
				next.Flag(reason, s.now())
				if err := event(t, ledger.OrderReview, next, at, reason); err != nil {
					return nil, err
				}
			}
		}
		return next, saveOrder(t, old, next, s)
	})
	return err
}
