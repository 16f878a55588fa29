// Package uploader drains the daemon's durable outbox of ledger events to
// the cloud (UPSTREAM.md §3), in seq order, at least once.
//
// One batch is in flight at a time, so events reach the cloud in seq order.
// A batch holds at most BatchEvents events and MaxBatchBytes of JSON; its id
// is "<store>-<first seq>-<last seq>", so a batch resent after a crash or a
// lost reply carries the same Idempotency-Key (and the event ids make the
// cloud's copy exactly-once anyway).
//
// Outcomes of a send:
//   - acked_through ≥ the batch's first seq: events through it are deleted
//     (never beyond the batch's last seq); the rest are sent again at once.
//   - retryable (network, timeout, 5xx, 429, 401/403, or an ack that
//     acknowledges nothing): exponential backoff with full jitter, capped at
//     MaxBackoff (5 min), at least any Retry-After; reset after a success.
//     While backing off, new events do not cut the wait short.
//   - rejected (other 4xx, *upstream.RejectedError): the batch is retried in
//     halves until the refused events are isolated; a single refused event
//     goes to the dead-letter bucket and the queue goes on. So one bad event
//     never takes 499 good ones with it (and a 413 shrinks the batch). The
//     batch size grows back by doubling after each success.
//
// Note for the cloud side: events moved to the dead-letter bucket leave a gap
// in the seqs the cloud sees; the cloud must not wait for them (see
// sync/cloudref for acked_through semantics that allow this).
//
// A queue in a data directory that is new or restored from a backup
// (Rebaser) sends nothing until the sink told the store's last seq
// (LastSeqer: GET …/events/last, or the JetStream subject's last message);
// its unsent events are then renumbered above it, ids unchanged, so the
// cloud's seqs keep rising across a box swap (docs/UPSTREAM.md §3).
//
// Memory is bounded by one batch, whatever the queue length.
package uploader

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/storebox/storebox/internal/backoff"
	"github.com/storebox/storebox/protocol/ledger"
	"github.com/storebox/storebox/sync/upstream"
)

// Queue is the durable outbox (daemon/store implements it).
type Queue interface {
	// Pending returns events with seq > after, in seq order: at most max events whose
	// JSON encodings total ≤ maxBytes (always at least one event if any is pending).
	Pending(after uint64, max, maxBytes int) ([]ledger.Event, error)
	Ack(through uint64) error                              // delete events with seq ≤ through
	DeadLetter(events []ledger.Event, reason string) error // move them to the dead-letter bucket (removing from the queue)
	QueueStats() (QueueStats, error)
	Notify() <-chan struct{} // receives (non-blocking, coalesced) when events are appended
}

// QueueStats describes the outbox.
type QueueStats struct {
	Depth       int
	Oldest      time.Time // zero if empty
	DeadLetters int
	LastSeq     uint64
}

// Sink delivers a batch and reports the highest seq the other side holds.
// Errors are classified like sync/upstream's: upstream.IsRetryable for
// "try later", *upstream.RejectedError for "this batch will never go".
type Sink interface {
	Send(ctx context.Context, b ledger.Batch) (ackedThrough uint64, err error)
}

// Rebaser is an optional Queue interface: a queue in a data directory that
// is new or restored from a backup must number its unsent events above the
// cloud's last seq before anything is uploaded (UPSTREAM.md §3).
type Rebaser interface {
	// RebaseDue says why the numbering must follow the cloud's ("new",
	// "restored"), or "" when it need not.
	RebaseDue() (string, error)
	// Rebase numbers the unsent events from cloudLast+1 in their order, ids
	// unchanged, and moves the sequence counter past them.
	Rebase(cloudLast uint64) (Rebase, error)
}

// Rebase is what Rebaser.Rebase did.
type Rebase struct {
	Reason   string
	FirstSeq uint64 // the first seq after the rebase (cloud's last + 1)
	Events   int    // unsent events renumbered
	OldFirst uint64 // the first of them's seq before
	Changed  bool   // the numbering moved (false: it already followed the cloud's)
}

// LastSeqer is an optional Sink interface: the highest seq the other side
// holds for the store (0 when none).
type LastSeqer interface {
	LastSeq(ctx context.Context) (uint64, error)
}

// Pinger is an optional Sink interface used while the queue is idle, so
// Online tells the truth without traffic.
type Pinger interface {
	Ping(ctx context.Context) error
}

// HTTPSink sends batches with an upstream.Client.
func HTTPSink(c *upstream.Client) Sink { return httpSink{c} }

type httpSink struct{ c *upstream.Client }

func (s httpSink) Send(ctx context.Context, b ledger.Batch) (uint64, error) {
	ack, err := s.c.PostEvents(ctx, b)
	return ack.AckedThrough, err
}

func (s httpSink) LastSeq(ctx context.Context) (uint64, error) { return s.c.LastSeq(ctx) }

func (s httpSink) Ping(ctx context.Context) error {
	_, err := s.c.Ping(ctx)
	return err
}

// Defaults.
const (
	DefaultBatchEvents = 500
	DefaultBatchBytes  = 1 << 20
	DefaultMinBackoff  = time.Second
	DefaultMaxBackoff  = 5 * time.Minute
	DefaultIdlePing    = time.Minute
)

// Config tunes an Uploader; zero fields take the defaults above.
type Config struct {
	StoreID       string
	BatchEvents   int
	MaxBatchBytes int
	MinBackoff    time.Duration
	MaxBackoff    time.Duration
	IdlePing      time.Duration // how often an idle uploader pings a Pinger sink; <0 never
	// Reconnected, if set, is kicked (from the Serve goroutine) when a send
	// or ping succeeds after a failure or at the first success: the
	// catalog feed pulls at once.
	Reconnected Kicker
	// Clock, if set, tells this box's clock against the cloud's (the HTTP
	// client's); Status shows it.
	Clock  func() upstream.ClockState
	Logger *slog.Logger
}

// Kicker is asked to act now (catalogfeed.Feed implements it).
type Kicker interface {
	Kick()
}

// State is what GET /api/v1/sync shows about the outbox.
type State struct {
	Online      bool          `json:"online"`
	Depth       int           `json:"depth"`
	OldestAge   time.Duration `json:"-"` // in JSON as oldest_age_s
	LastSuccess time.Time     `json:"last_success,omitzero"`
	LastError   string        `json:"last_error,omitempty"`
	LastErrorAt time.Time     `json:"last_error_at,omitzero"`
	// SignatureRejected: the cloud answers but refuses this store's
	// signature, so "offline" would send the technician the wrong way.
	SignatureRejected bool      `json:"signature_rejected,omitempty"`
	DeadLetters       int       `json:"dead_letters"`
	Sent              uint64    `json:"sent"`
	LastSeq           uint64    `json:"last_seq"`
	NextRetry         time.Time `json:"next_retry,omitzero"`
	// ClockOffsetS is this box's clock minus the cloud's in whole seconds
	// (nil until a reply carried a Date); ClockCorrected: requests are
	// signed with the cloud's time because of it.
	ClockOffsetS   *int64 `json:"clock_offset_s,omitempty"`
	ClockCorrected bool   `json:"clock_corrected,omitempty"`
}

// MarshalJSON shows OldestAge as oldest_age_s (seconds, a number).
func (s State) MarshalJSON() ([]byte, error) {
	type plain State
	return json.Marshal(struct {
		plain
		OldestAgeS float64 `json:"oldest_age_s"`
	}{plain(s), s.OldestAge.Seconds()})
}

// Uploader drains a Queue into a Sink.
type Uploader struct {
	q    Queue
	sink Sink
	cfg  Config
	log  *slog.Logger

	sendMu    sync.Mutex // one batch in flight; guards batchMax and based
	batchMax  int        // current event cap (halved on a rejection)
	based     bool       // the numbering was checked against the cloud's (Rebaser)
	kick      chan struct{}
	stateMu   sync.Mutex
	st        State
	failures  int
	connected bool
}

// New returns an Uploader; call Serve to run it.
func New(q Queue, sink Sink, cfg Config) *Uploader {
	if cfg.BatchEvents <= 0 {
		cfg.BatchEvents = DefaultBatchEvents
	}
	if cfg.MaxBatchBytes <= 0 {
		cfg.MaxBatchBytes = DefaultBatchBytes
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = DefaultMinBackoff
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = DefaultMaxBackoff
	}
	if cfg.IdlePing == 0 {
		cfg.IdlePing = DefaultIdlePing
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Uploader{q: q, sink: sink, cfg: cfg, log: cfg.Logger, batchMax: cfg.BatchEvents,
		kick: make(chan struct{}, 1)}
}

// Status returns the current state; Depth and age come from the queue.
func (u *Uploader) Status() State {
	u.stateMu.Lock()
	st := u.st
	u.stateMu.Unlock()
	if u.cfg.Clock != nil {
		if cl := u.cfg.Clock(); cl.Known {
			off := int64(cl.Offset.Round(time.Second) / time.Second)
			st.ClockOffsetS, st.ClockCorrected = &off, cl.Corrected
		}
	}
	if qs, err := u.q.QueueStats(); err == nil {
		st.Depth, st.DeadLetters, st.LastSeq = qs.Depth, qs.DeadLetters, qs.LastSeq
		if !qs.Oldest.IsZero() {
			st.OldestAge = time.Since(qs.Oldest)
		} else {
			st.OldestAge = 0
		}
	}
	return st
}

// step outcome.
type outcome int

const (
	idle outcome = iota // queue empty
	progressed
	retryLater
)

// sendOnce sends the next batch. It returns how many events left the queue
// (acked or dead-lettered) and the outcome; err is set for retryLater.
func (u *Uploader) sendOnce(ctx context.Context) (int, outcome, error) {
	u.sendMu.Lock()
	defer u.sendMu.Unlock()
	if !u.based {
		if err := u.rebase(ctx); err != nil {
			return 0, retryLater, err
		}
		u.based = true
	}
	// Always from the head: the queue holds only unacknowledged events, so
	// whatever is in it (even an event that came back below the last ack)
	// goes out.
	evs, err := u.q.Pending(0, u.batchMax, u.cfg.MaxBatchBytes)
	if err != nil {
		return 0, retryLater, fmt.Errorf("read outbox: %w", err)
	}
	if len(evs) == 0 {
		return 0, idle, nil
	}
	first, last := evs[0].Seq, evs[len(evs)-1].Seq
	b := ledger.Batch{BatchID: fmt.Sprintf("%s-%d-%d", u.cfg.StoreID, first, last), Events: evs}
	acked, err := u.sink.Send(ctx, b)
	if err != nil {
		if ctx.Err() != nil {
			return 0, retryLater, ctx.Err()
		}
		var rej *upstream.RejectedError
		if errors.As(err, &rej) {
			if len(evs) > 1 {
				// Narrow down to the events the cloud refuses (or to a
				// size it takes, on 413) instead of dead-lettering
				// good events along with a bad one.
				u.batchMax = max(1, len(evs)/2)
				u.log.Warn("cloud rejected a batch; retrying in halves to isolate it", "first_seq", first, "last_seq", last, "status", rej.Status)
				return 0, progressed, nil
			}
			if derr := u.q.DeadLetter(evs, err.Error()); derr != nil {
				return 0, retryLater, fmt.Errorf("dead-letter seq %d..%d: %w", first, last, derr)
			}
			u.grow()
			u.log.Error("cloud rejected a batch; events moved to dead letters", "first_seq", first, "last_seq", last, "err", err)
			u.noteError(err, true)
			return len(evs), progressed, nil
		}
		return 0, retryLater, err
	}
	if acked < first {
		return 0, retryLater, fmt.Errorf("cloud acknowledged through %d, before the batch's first seq %d", acked, first)
	}
	acked = min(acked, last)
	if err := u.q.Ack(acked); err != nil {
		return 0, retryLater, fmt.Errorf("ack outbox through %d: %w", acked, err)
	}
	n := 0
	for _, e := range evs {
		if e.Seq <= acked {
			n++
		}
	}
	u.grow()
	u.noteSuccess(n)
	return n, progressed, nil
}

// rebase asks the cloud for the store's last seq and renumbers the unsent
// events above it when the queue says its numbering must follow the
// cloud's; nothing is uploaded until that is done.
func (u *Uploader) rebase(ctx context.Context) error {
	r, ok := u.q.(Rebaser)
	if !ok {
		return nil
	}
	why, err := r.RebaseDue()
	if err != nil || why == "" {
		return err
	}
	ls, ok := u.sink.(LastSeqer)
	if !ok {
		return fmt.Errorf("the data directory is %s, but this upstream cannot tell the store's last seq: nothing is uploaded", why)
	}
	last, err := ls.LastSeq(ctx)
	if err != nil {
		return fmt.Errorf("ask the cloud for the store's last seq (the data directory is %s): %w", why, err)
	}
	rb, err := r.Rebase(last)
	if err != nil {
		return err
	}
	if !rb.Changed {
		u.log.Info("ledger numbering checked against the cloud's last seq: already above it", "reason", rb.Reason, "cloud_last_seq", last)
		return nil
	}
	u.log.Warn("ledger rebased on the cloud's last seq: unsent events renumbered, ids unchanged",
		"reason", rb.Reason, "cloud_last_seq", last, "first_seq", rb.FirstSeq, "events", rb.Events, "old_first_seq", rb.OldFirst)
	return nil
}

// grow doubles a batch size shrunk by a rejection back toward BatchEvents.
func (u *Uploader) grow() {
	if u.batchMax < u.cfg.BatchEvents {
		u.batchMax = min(u.cfg.BatchEvents, u.batchMax*2)
	}
}

func (u *Uploader) noteSuccess(sent int) {
	u.stateMu.Lock()
	u.st.Sent += uint64(sent)
	u.st.LastSuccess = time.Now()
	u.st.Online = true
	u.st.NextRetry = time.Time{}
	u.clearErrorLocked()
	u.failures = 0
	reconnect := !u.connected
	u.connected = true
	u.stateMu.Unlock()
	if reconnect && u.cfg.Reconnected != nil {
		u.cfg.Reconnected.Kick()
	}
}

// clearErrorLocked forgets the last error once the cloud takes our requests
// again: a red error beside "online" is a contradiction, not history.
func (u *Uploader) clearErrorLocked() {
	u.st.LastError, u.st.LastErrorAt, u.st.SignatureRejected = "", time.Time{}, false
}

// noteError records err; online says whether the cloud answered (a rejection).
func (u *Uploader) noteError(err error, online bool) {
	u.stateMu.Lock()
	u.st.LastError = err.Error()
	u.st.LastErrorAt = time.Now()
	u.st.SignatureRejected = upstream.IsSignatureRejected(err)
	if !online {
		u.st.Online = false
		u.connected = false
	}
	u.stateMu.Unlock()
}

// backoff returns the wait after the n-th consecutive failure (n ≥ 1):
// full jitter over min(max, min·2^(n-1)), but at least Retry-After.
func (u *Uploader) backoff(n int, err error) time.Duration {
	d := backoff.Policy{Min: u.cfg.MinBackoff, Max: u.cfg.MaxBackoff, Jitter: true}.Delay(n - 1)
	// The cloud's Retry-After wins over a shorter jitter (up to 5 min, so a
	// wild value cannot park the queue for a day).
	if ra, ok := upstream.RetryAfter(err); ok && d < ra {
		d = min(ra, max(u.cfg.MaxBackoff, DefaultMaxBackoff))
	}
	return d
}

// Serve drains the queue until ctx is cancelled.
func (u *Uploader) Serve(ctx context.Context) error {
	var idleTimer <-chan time.Time
	if p, ok := u.sink.(Pinger); ok && u.cfg.IdlePing > 0 {
		u.ping(ctx, p)
		t := time.NewTicker(u.cfg.IdlePing)
		defer t.Stop()
		idleTimer = t.C
	}
	poll := time.NewTicker(30 * time.Second) // belt and braces if a Notify is missed
	defer poll.Stop()
	for {
		_, out, err := u.sendOnce(ctx)
		if ctx.Err() != nil {
			return nil
		}
		switch out {
		case progressed:
			continue
		case retryLater:
			u.stateMu.Lock()
			u.failures++
			f := u.failures
			u.stateMu.Unlock()
			u.noteError(err, false)
			d := u.backoff(f, err)
			u.stateMu.Lock()
			u.st.NextRetry = time.Now().Add(d)
			u.stateMu.Unlock()
			u.log.Warn("upload failed; retrying", "err", err, "in", d.Round(time.Millisecond), "attempt", f)
			t := time.NewTimer(d)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil
			case <-t.C:
			case <-u.kick: // DrainNow asked for an attempt now
				t.Stop()
			}
			continue
		case idle:
		}
		select {
		case <-ctx.Done():
			return nil
		case <-u.q.Notify():
		case <-u.kick:
		case <-poll.C:
		case <-idleTimer:
			if p, ok := u.sink.(Pinger); ok {
				u.ping(ctx, p)
			}
		}
	}
}

func (u *Uploader) ping(ctx context.Context, p Pinger) {
	if err := p.Ping(ctx); err != nil {
		if ctx.Err() == nil {
			var rej *upstream.RejectedError
			u.noteError(fmt.Errorf("ping: %w", err), errors.As(err, &rej))
		}
		return
	}
	u.stateMu.Lock()
	u.st.Online = true
	u.clearErrorLocked()
	reconnect := !u.connected
	u.connected = true
	u.stateMu.Unlock()
	if reconnect && u.cfg.Reconnected != nil {
		u.cfg.Reconnected.Kick()
	}
}

// DrainNow sends until the queue is empty, calling progress after each
// batch with the events sent so far and those remaining. It does not wait
// for a backoff: the first failure is returned. It is safe alongside Serve.
func (u *Uploader) DrainNow(ctx context.Context, progress func(sent, remaining int)) error {
	select {
	case u.kick <- struct{}{}:
	default:
	}
	sent := 0
	report := func() {
		if progress == nil {
			return
		}
		rem := 0
		if qs, err := u.q.QueueStats(); err == nil {
			rem = qs.Depth
		}
		progress(sent, rem)
	}
	report()
	for {
		n, out, err := u.sendOnce(ctx)
		switch out {
		case idle:
			report()
			return nil
		case retryLater:
			if ctx.Err() != nil {
				return ctx.Err()
			}
			u.noteError(err, false)
			return err
		}
		sent += n
		report()
	}
}
