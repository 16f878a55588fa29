package printing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"go.etcd.io/bbolt"

	"github.com/storebox/storebox/daemon/store"
	"github.com/storebox/storebox/drivers/printer"
	"github.com/storebox/storebox/internal/backoff"
)

// retry paces a printer that holds jobs but cannot take them: soon enough
// that a reloaded paper roll prints within seconds.
var retry = backoff.Policy{Min: 500 * time.Millisecond, Max: 5 * time.Second}

// worker prints one printer's queue in order.
type worker struct {
	s    *Service
	p    Printer
	kick chan struct{}
	log  *slog.Logger

	link     printer.Link
	oneWay   bool      // the link cannot answer status
	failures int       // consecutive failures, for the pacing
	silent   time.Time // since when the printer has not answered (zero: it answers)
	deleted  uint64    // a printed job whose delete failed: never print it again

	mu    sync.Mutex
	state State
}

func (w *worker) snapshot() State {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.state
}

func (w *worker) queued(n int) {
	w.mu.Lock()
	w.state.Queued += n
	w.mu.Unlock()
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// set records the printer's state; since moves only when the state does.
func (w *worker) set(state, errMsg string) {
	now := w.s.cfg.Now().UTC()
	fault := false
	switch state {
	case printer.StatePaperEnd, printer.StateCoverOpen, printer.StateError, printer.StateOffline:
		fault = true
	case printer.StateUnreachable, printer.StateNoAnswer:
		fault = !w.silent.IsZero() && now.Sub(w.silent) >= w.s.cfg.FaultAfter
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.state.State != state {
		w.state.Since = now
		if fault || w.state.Fault {
			w.log.Warn("printer state", "state", state, "error", errMsg)
		}
	}
	w.state.State, w.state.Error, w.state.Fault = state, errMsg, fault
}

func (w *worker) closeLink() {
	if w.link != nil {
		w.link.Close()
		w.link = nil
	}
}

func (w *worker) run(ctx context.Context) {
	defer w.closeLink()
	var lastCheck time.Time
	for ctx.Err() == nil {
		job, err := w.next()
		if err != nil {
			w.set(printer.StateError, err.Error())
			backoff.Sleep(ctx, retry.Delay(w.failures))
			w.failures++
			continue
		}
		if job == nil {
			w.closeLink() // between bursts the printer is free for others
			every := w.idleEvery()
			if time.Since(lastCheck) >= every {
				w.check(ctx)
				w.closeLink()
				lastCheck = time.Now()
				every = w.idleEvery()
			}
			t := time.NewTimer(every - time.Since(lastCheck))
			select {
			case <-ctx.Done():
			case <-w.kick:
			case <-t.C:
			}
			t.Stop()
			continue
		}
		lastCheck = time.Now()
		if !w.check(ctx) {
			w.closeLink()
			w.failures++
			backoff.Sleep(ctx, retry.Delay(w.failures-1))
			continue
		}
		if err := w.print(job); err != nil {
			w.closeLink()
			w.set(printer.StateUnreachable, err.Error())
			w.failures++
			backoff.Sleep(ctx, retry.Delay(w.failures-1))
			continue
		}
		w.failures = 0
	}
}

// idleEvery is how long an idle printer waits for its next status check:
// StatusEvery, or Recheck while it is in trouble, so that a silence
// becomes a fault after FaultAfter and a fault clears soon after it ends.
// A printer that never answers status stays on StatusEvery once its fault
// is raised.
func (w *worker) idleEvery() time.Duration {
	st := w.snapshot()
	switch st.State {
	case printer.StateOK, printer.StateNoStatus, "starting":
		return w.s.cfg.StatusEvery
	case printer.StateNoAnswer:
		if st.Fault {
			return w.s.cfg.StatusEvery
		}
	}
	return min(w.s.cfg.Recheck, w.s.cfg.StatusEvery)
}

// next is the oldest queued job, or nil.
func (w *worker) next() (*Job, error) {
	var j *Job
	err := w.s.st.View(func(tx *bbolt.Tx) (err error) {
		j, err = first(tx, w.p.ID)
		return err
	})
	if err != nil || j == nil {
		return nil, err
	}
	if j.Seq == w.deleted {
		// printed already; only its delete failed
		return nil, w.remove(j)
	}
	return j, nil
}

// check opens the link if needed and asks the printer's status; it reports
// whether a job may be sent.
func (w *worker) check(ctx context.Context) bool {
	if w.link == nil {
		l, err := printer.Open(ctx, w.p.Connect, w.s.cfg.Timeouts)
		if err != nil {
			w.noAnswer(err)
			return false
		}
		w.link, w.oneWay = l, false
	}
	if w.oneWay {
		return true // this link did not answer before: print blind until it is reopened
	}
	st, err := printer.ReadStatus(w.link)
	switch {
	case errors.Is(err, printer.ErrNoStatus):
		w.oneWay = true
		w.silent = time.Time{}
		w.set(printer.StateNoStatus, "")
		return true
	case errors.Is(err, os.ErrDeadlineExceeded):
		// Connected, but no answer to DLE EOT: a printer without status
		// support, or one that is hung. Its jobs go out blind (deleted once
		// written) and the silence becomes a fault after FaultAfter.
		w.oneWay = true
		if w.silent.IsZero() {
			w.silent = w.s.cfg.Now()
		}
		w.set(printer.StateNoAnswer, "no answer to DLE EOT status queries; printing without status")
		return true
	case err != nil:
		w.closeLink()
		w.noAnswer(err)
		return false
	}
	w.silent = time.Time{}
	state := st.State()
	msg := ""
	if state != printer.StateOK {
		msg = describe(st)
	}
	w.set(state, msg)
	return st.Ready()
}

func (w *worker) noAnswer(err error) {
	if w.silent.IsZero() {
		w.silent = w.s.cfg.Now()
	}
	w.set(printer.StateUnreachable, err.Error())
}

func describe(st printer.Status) string {
	if st.Detail != "" {
		return st.Detail
	}
	switch st.State() {
	case printer.StatePaperEnd:
		return "out of paper"
	case printer.StateCoverOpen:
		return "cover open"
	case printer.StateError:
		return "printer error (cutter jam, head too hot, or a recoverable error)"
	case printer.StateOffline:
		return "offline (paper being fed by hand, or waiting)"
	}
	return ""
}

// print sends the job whole and, where the link answers, waits for the
// printer to answer a status query sent after it: the printer has then
// read every byte of the job. Only then is the job deleted.
func (w *worker) print(j *Job) error {
	if _, err := w.link.Write(j.Data); err != nil {
		return fmt.Errorf("send job %d (%s %s): %w", j.Seq, j.Kind, j.OID, err)
	}
	if !w.oneWay {
		// ErrNoStatus: nothing to wait for; a Windows spooler link's
		// write returns once the spooler holds the job.
		if _, err := w.link.Query(1); err != nil && !errors.Is(err, printer.ErrNoStatus) {
			return fmt.Errorf("job %d sent, but the printer did not acknowledge it (it will be sent again): %w", j.Seq, err)
		}
	}
	w.deleted = j.Seq
	if err := w.remove(j); err != nil {
		w.log.Error("printed job not deleted (it will not be printed again)", "seq", j.Seq, "err", err)
	}
	w.mu.Lock()
	w.state.Printed++
	w.state.LastPrinted = w.s.cfg.Now().UTC()
	w.mu.Unlock()
	if w.s.printed != nil {
		w.s.printed(w.p.ID, j)
	}
	return nil
}

func (w *worker) remove(j *Job) error {
	err := w.s.st.Update(func(t *store.Tx) error { return remove(t.Tx, w.p.ID, j.Seq) })
	if err != nil {
		return fmt.Errorf("delete print job %d: %w", j.Seq, err)
	}
	w.mu.Lock()
	w.state.Queued = max(w.state.Queued-1, 0)
	w.mu.Unlock()
	return nil
}
