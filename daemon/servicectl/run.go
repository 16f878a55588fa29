package servicectl

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/kardianos/service"
)

// RunAsService runs runFn for the life of the process. Started by the
// Windows service manager, it hosts runFn under golang.org/x/sys/windows/svc
// so the SCM's stop request cancels runFn's context; everywhere else (a
// terminal, systemd, which signals with SIGTERM) it calls runFn(ctx)
// directly. runFn must return soon after its context is cancelled.
func RunAsService(ctx context.Context, runFn func(ctx context.Context) error) error {
	if runtime.GOOS != "windows" || !isWindowsService() {
		return runFn(ctx)
	}
	p := newProgram(ctx, runFn)
	if err := runService(p); err != nil {
		return fmt.Errorf("run as service: %w", err)
	}
	return p.result()
}

// program adapts runFn to kardianos's Start/Stop.
type program struct {
	parent      context.Context
	run         func(context.Context) error
	stopTimeout time.Duration
	// exit ends the process when runFn fails on its own: the SCM applies
	// its recovery actions (restart) only to a service that dies.
	exit func(code int)

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

func newProgram(ctx context.Context, run func(context.Context) error) *program {
	return &program{parent: ctx, run: run, stopTimeout: 25 * time.Second, exit: os.Exit}
}

// Start implements service.Interface: it must return quickly.
func (p *program) Start(service.Service) error {
	ctx, cancel := context.WithCancel(p.parent)
	p.mu.Lock()
	p.cancel, p.done = cancel, make(chan struct{})
	p.mu.Unlock()
	go func() {
		err := p.run(ctx)
		p.mu.Lock()
		p.err = err
		p.mu.Unlock()
		close(p.done)
		if ctx.Err() == nil {
			// Nobody asked us to stop.
			fmt.Fprintln(os.Stderr, "storebox: daemon stopped on its own:", err)
			ReportFatal(fmt.Errorf("daemon stopped on its own: %w", err))
			p.exit(1)
		}
	}()
	return nil
}

// Stop implements service.Interface: cancel and wait for runFn.
func (p *program) Stop(service.Service) error {
	p.mu.Lock()
	cancel, done := p.cancel, p.done
	p.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	select {
	case <-done:
		return p.result()
	case <-time.After(p.stopTimeout):
		return fmt.Errorf("daemon did not stop within %s", p.stopTimeout)
	}
}

// result is runFn's error, with a clean stop (nil or context.Canceled) as nil.
func (p *program) result() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if errors.Is(p.err, context.Canceled) {
		return nil
	}
	return p.err
}
