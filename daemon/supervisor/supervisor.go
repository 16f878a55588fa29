// Package supervisor starts the daemon's components in dependency order,
// restarts one whose Serve fails, and stops them in reverse order.
package supervisor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Component is one long-lived part of the daemon.
type Component struct {
	Name string
	// Start binds what must be bound before the daemon is ready (listeners,
	// files). An error stops the daemon's start. Optional.
	Start func(ctx context.Context) error
	// Serve runs until ctx is cancelled. Returning nil or context.Canceled
	// after cancellation is a clean stop; any other return is restarted
	// with backoff. Optional.
	Serve func(ctx context.Context) error
	// Stop releases what Start took, after Serve returned. Optional.
	Stop func() error
}

// Fatal wraps an error that must stop the whole daemon instead of being
// restarted.
type Fatal struct{ Err error }

func (f Fatal) Error() string { return f.Err.Error() }
func (f Fatal) Unwrap() error { return f.Err }

// Supervisor runs components.
type Supervisor struct {
	log         *slog.Logger
	StopTimeout time.Duration
	running     []*running
	fatal       chan error
}

type running struct {
	c      Component
	cancel context.CancelFunc
	done   chan struct{}
}

// New returns a supervisor.
func New(log *slog.Logger) *Supervisor {
	return &Supervisor{log: log, StopTimeout: 5 * time.Second, fatal: make(chan error, 1)}
}

// Start starts components in order. If one fails to start, the ones
// already started are stopped and the error names the component.
func (s *Supervisor) Start(ctx context.Context, cs ...Component) error {
	for _, c := range cs {
		if c.Start != nil {
			if err := c.Start(ctx); err != nil {
				s.Stop()
				return err
			}
		}
		rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		r := &running{c: c, cancel: cancel, done: make(chan struct{})}
		s.running = append(s.running, r)
		go s.serve(rctx, r)
	}
	return nil
}

func (s *Supervisor) serve(ctx context.Context, r *running) {
	defer close(r.done)
	if r.c.Serve == nil {
		<-ctx.Done()
		return
	}
	backoff := 100 * time.Millisecond
	for {
		start := time.Now()
		err := r.c.Serve(ctx)
		if ctx.Err() != nil {
			return // stopping: whatever it returned is a clean stop
		}
		var f Fatal
		if errors.As(err, &f) {
			select {
			case s.fatal <- fmt.Errorf("%s: %w", r.c.Name, f.Err):
			default:
			}
			return
		}
		if time.Since(start) > time.Minute {
			backoff = 100 * time.Millisecond
		}
		s.log.Error("component stopped; restarting", "component", r.c.Name, "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 30*time.Second)
	}
}

// Fatal receives the first fatal component error.
func (s *Supervisor) Fatal() <-chan error { return s.fatal }

// Stop stops components in reverse order, each within what is left of
// StopTimeout; a component that does not stop in time is reported and left.
func (s *Supervisor) Stop() error {
	deadline := time.Now().Add(s.StopTimeout)
	var errs []error
	var mu sync.Mutex
	for i := len(s.running) - 1; i >= 0; i-- {
		r := s.running[i]
		r.cancel()
		select {
		case <-r.done:
		case <-time.After(time.Until(deadline)):
			mu.Lock()
			errs = append(errs, fmt.Errorf("%s did not stop within %s", r.c.Name, s.StopTimeout))
			mu.Unlock()
			continue
		}
		if r.c.Stop != nil {
			if err := r.c.Stop(); err != nil {
				errs = append(errs, fmt.Errorf("stop %s: %w", r.c.Name, err))
			}
		}
	}
	s.running = nil
	return errors.Join(errs...)
}
