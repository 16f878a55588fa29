// Package supervisor runs the daemon's long-lived parts: it binds every
// listener before any part serves (so "ready" means every listener is up),
// restarts a part whose Serve fails, and stops them in reverse order.
//
// A part is a Service, optionally a Binder and an io.Closer:
//
//	Bind() error                   open listeners; a failure stops the daemon
//	Serve(ctx context.Context) error  run until ctx is cancelled
//	Close() error                  release what New and Bind took
//
// The one restart rule: a Serve that returns before its context ends (nil,
// or an error that is not Fatal) is run again after a capped exponential
// backoff (100 ms doubling to 30 s, from 100 ms again after a minute's
// run); a Binder is bound again first (Serve closes the listeners it was given,
// so the restart gets fresh ones). A Fatal error, or a Bind error at start
// or before a restart, stops the daemon. Every error the supervisor returns
// names the part it came from.
package supervisor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/storebox/storebox/internal/backoff"
)

// Service is one long-lived part of the daemon. Serve runs until ctx is
// cancelled; what it returns then is a clean stop.
type Service interface {
	Serve(ctx context.Context) error
}

// Binder is a Service with listeners. Bind opens them unless they are
// open; Serve binds if Bind was not called and closes them when it returns.
type Binder interface {
	Bind() error
}

// Fatal wraps an error that must stop the whole daemon instead of being
// restarted.
type Fatal struct{ Err error }

func (f Fatal) Error() string { return f.Err.Error() }
func (f Fatal) Unwrap() error { return f.Err }

// Supervisor runs services.
type Supervisor struct {
	log         *slog.Logger
	StopTimeout time.Duration
	// Backoff paces restarts; tests shorten it.
	Backoff backoff.Policy

	parts   []*part
	started int // parts[:started] are serving
	fatal   chan error
}

type part struct {
	name   string
	svc    Service
	cancel context.CancelFunc
	done   chan struct{}
}

// New returns a supervisor with no parts.
func New(log *slog.Logger) *Supervisor {
	return &Supervisor{log: log, StopTimeout: 5 * time.Second, fatal: make(chan error, 1),
		Backoff: backoff.Policy{Min: 100 * time.Millisecond, Max: 30 * time.Second}}
}

// Add appends a part. Parts bind and start in the order added and stop in
// reverse: add what others use first.
func (s *Supervisor) Add(name string, svc Service) {
	s.parts = append(s.parts, &part{name: name, svc: svc})
}

// Start binds every Binder in order, then starts every Serve. If a bind
// fails, every part is closed and the error names the part.
func (s *Supervisor) Start(ctx context.Context) error {
	for _, p := range s.parts {
		if b, ok := p.svc.(Binder); ok {
			if err := b.Bind(); err != nil {
				s.closeAll()
				return named(p.name, err)
			}
		}
	}
	for _, p := range s.parts {
		rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		p.cancel, p.done = cancel, make(chan struct{})
		go s.serve(rctx, p)
		s.started++
	}
	return nil
}

// named prefixes err with the part's name unless its wording already
// starts with it ("devices.listen 0.0.0.0:8686: ...").
func named(name string, err error) error {
	msg := err.Error()
	if strings.HasPrefix(msg, name+".") || strings.HasPrefix(msg, name+":") {
		return err
	}
	return fmt.Errorf("%s: %w", name, err)
}

func (s *Supervisor) serve(ctx context.Context, p *part) {
	defer close(p.done)
	b := s.Backoff
	for attempt := 0; ; attempt++ {
		start := time.Now()
		err := p.svc.Serve(ctx)
		if ctx.Err() != nil {
			return // stopping: whatever it returned is a clean stop
		}
		if f := (Fatal{}); errors.As(err, &f) {
			s.fail(named(p.name, f.Err))
			return
		}
		if err == nil {
			err = errors.New("returned before it was stopped")
		}
		if time.Since(start) > time.Minute {
			attempt = 0 // it ran long enough: start the backoff over
		}
		wait := b.Delay(attempt)
		s.log.Error("component stopped; restarting", "component", p.name, "err", err, "in", wait)
		if !backoff.Sleep(ctx, wait) {
			return
		}
		if bd, ok := p.svc.(Binder); ok {
			if err := bd.Bind(); err != nil {
				s.fail(named(p.name, err))
				return
			}
		}
	}
}

func (s *Supervisor) fail(err error) {
	select {
	case s.fatal <- err:
	default:
	}
}

// Fatal receives the first fatal error, named after its part.
func (s *Supervisor) Fatal() <-chan error { return s.fatal }

// Stop stops the parts in reverse order, each within what is left of
// StopTimeout, and closes each after its Serve returned. A part that does
// not stop in time is reported and not closed.
func (s *Supervisor) Stop() error {
	deadline := time.Now().Add(s.StopTimeout)
	var errs []error
	for i := len(s.parts) - 1; i >= 0; i-- {
		p := s.parts[i]
		if i < s.started {
			p.cancel()
			select {
			case <-p.done:
			case <-time.After(time.Until(deadline)):
				errs = append(errs, fmt.Errorf("%s did not stop within %s", p.name, s.StopTimeout))
				continue
			}
		}
		if err := closePart(p); err != nil {
			errs = append(errs, err)
		}
	}
	s.parts, s.started = nil, 0
	return errors.Join(errs...)
}

// closeAll closes every part in reverse order after a failed start.
func (s *Supervisor) closeAll() {
	for i := len(s.parts) - 1; i >= 0; i-- {
		if err := closePart(s.parts[i]); err != nil {
			s.log.Error("close after a failed start", "err", err)
		}
	}
	s.parts = nil
}

func closePart(p *part) error {
	c, ok := p.svc.(io.Closer)
	if !ok {
		return nil
	}
	if err := c.Close(); err != nil {
		return fmt.Errorf("close %s: %w", p.name, err)
	}
	return nil
}

// Func adapts a function to a Service, for a side loop with nothing to
// bind or close.
type Func func(ctx context.Context) error

// Serve calls f.
func (f Func) Serve(ctx context.Context) error { return f(ctx) }
