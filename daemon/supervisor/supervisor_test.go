package supervisor

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/storebox/storebox/internal/backoff"
	"github.com/storebox/storebox/test/testenv"
)

// recorder keeps what the parts did, in order.
type recorder struct {
	mu     sync.Mutex
	events []string
}

func (r *recorder) add(s string) { r.mu.Lock(); r.events = append(r.events, s); r.mu.Unlock() }
func (r *recorder) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

// fakePart is a Binder and Closer whose Bind fails when told to.
type fakePart struct {
	name     string
	rec      *recorder
	failBind atomic.Bool
	binds    atomic.Int32
	serve    func(ctx context.Context) error
}

func (p *fakePart) Bind() error {
	p.binds.Add(1)
	p.rec.add("bind " + p.name)
	if p.failBind.Load() {
		return errors.New("address already in use")
	}
	return nil
}

func (p *fakePart) Serve(ctx context.Context) error {
	if p.serve != nil {
		return p.serve(ctx)
	}
	<-ctx.Done()
	return nil
}

func (p *fakePart) Close() error { p.rec.add("close " + p.name); return nil }

var (
	_ Binder  = (*fakePart)(nil)
	_ Service = Func(nil)
)

func quick() *Supervisor {
	s := New(slog.New(slog.DiscardHandler))
	s.Backoff = backoff.Policy{Min: time.Millisecond, Max: 10 * time.Millisecond}
	return s
}

func TestBindFailureClosesEverythingAndNamesThePart(t *testing.T) {
	rec := &recorder{}
	s := quick()
	for _, name := range []string{"a", "b", "c", "d"} {
		p := &fakePart{name: name, rec: rec}
		p.failBind.Store(name == "c")
		s.Add(name, p)
	}
	err := s.Start(context.Background())
	if err == nil || err.Error() != "c: address already in use" {
		t.Fatalf("err %v", err)
	}
	want := []string{"bind a", "bind b", "bind c", "close d", "close c", "close b", "close a"}
	if got := rec.list(); !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
}

func TestErrorAlreadyNamingThePartIsNotNamedTwice(t *testing.T) {
	if err := named("devices", errors.New("devices.listen :1: address already in use")); err.Error() != "devices.listen :1: address already in use" {
		t.Fatal(err)
	}
	if err := named("doors", errors.New("mqtt.listen :1: x")); err.Error() != "doors: mqtt.listen :1: x" {
		t.Fatal(err)
	}
}

func TestEveryBindBeforeAnyServeAndReverseStop(t *testing.T) {
	rec := &recorder{}
	s := quick()
	for _, name := range []string{"a", "b"} {
		p := &fakePart{name: name, rec: rec}
		p.serve = func(ctx context.Context) error {
			rec.add("serve " + name)
			<-ctx.Done()
			rec.add("stopped " + name)
			return ctx.Err()
		}
		s.Add(name, p)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, "both parts serving", func() bool { return len(rec.list()) >= 4 })
	if got := rec.list()[:2]; !slices.Equal(got, []string{"bind a", "bind b"}) {
		t.Fatalf("a fakePart served before every fakePart was bound: %v", rec.list())
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if got := rec.list()[4:]; !slices.Equal(got, []string{"stopped b", "close b", "stopped a", "close a"}) {
		t.Fatalf("stop order %v", got)
	}
}

func TestRestartRebindsAndFatalIsNamed(t *testing.T) {
	rec := &recorder{}
	var runs atomic.Int32
	flaky := &fakePart{name: "flaky", rec: rec, serve: func(ctx context.Context) error {
		if runs.Add(1) < 3 {
			return errors.New("accept: use of closed network connection")
		}
		<-ctx.Done()
		return nil
	}}
	s := quick()
	s.Add("flaky", flaky)
	s.Add("doomed", Func(func(ctx context.Context) error {
		for runs.Load() < 3 {
			if !backoff.Sleep(ctx, time.Millisecond) {
				return nil
			}
		}
		return Fatal{errors.New("disk gone")}
	}))
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-s.Fatal():
		if err.Error() != "doomed: disk gone" {
			t.Fatalf("fatal %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no fatal")
	}
	if n := flaky.binds.Load(); n != 3 {
		t.Fatalf("flaky bound %d times for 3 runs", n)
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
}

func TestBindErrorBeforeARestartIsFatal(t *testing.T) {
	rec := &recorder{}
	p := &fakePart{name: "http", rec: rec}
	p.serve = func(ctx context.Context) error {
		p.failBind.Store(true) // the port was taken meanwhile
		return errors.New("serve failed")
	}
	s := quick()
	s.Add("http", p)
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-s.Fatal():
		if err.Error() != "http: address already in use" {
			t.Fatalf("fatal %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a failed re-bind did not stop the daemon")
	}
	s.Stop()
}

func TestStopTimeout(t *testing.T) {
	s := quick()
	s.StopTimeout = 200 * time.Millisecond
	block := make(chan struct{})
	defer close(block)
	s.Add("stuck", Func(func(context.Context) error { <-block; return nil }))
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(); err == nil || err.Error() != "stuck did not stop within 200ms" {
		t.Fatalf("stuck fakePart reported as %v", err)
	}
}
