package supervisor

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestStartOrderFailureAndReverseStop(t *testing.T) {
	var mu sync.Mutex
	var events []string
	rec := func(s string) { mu.Lock(); events = append(events, s); mu.Unlock() }
	comp := func(name string, fail bool) Component {
		return Component{
			Name: name,
			Start: func(context.Context) error {
				rec("start " + name)
				if fail {
					return errors.New(name + " failed")
				}
				return nil
			},
			Serve: func(ctx context.Context) error { <-ctx.Done(); return nil },
			Stop:  func() error { rec("stop " + name); return nil },
		}
	}
	s := New(slog.New(slog.DiscardHandler))
	err := s.Start(context.Background(), comp("a", false), comp("b", false), comp("c", true), comp("d", false))
	if err == nil || err.Error() != "c failed" {
		t.Fatalf("err %v", err)
	}
	want := []string{"start a", "start b", "start c", "stop b", "stop a"}
	if len(events) != len(want) {
		t.Fatalf("%v", events)
	}
	for i := range want {
		if events[i] != want[i] {
			t.Fatalf("%v", events)
		}
	}
}

func TestRestartAndFatal(t *testing.T) {
	var runs atomic.Int32
	s := New(slog.New(slog.DiscardHandler))
	err := s.Start(context.Background(),
		Component{Name: "flaky", Serve: func(ctx context.Context) error {
			if runs.Add(1) < 3 {
				return errors.New("boom")
			}
			<-ctx.Done()
			return nil
		}},
		Component{Name: "doomed", Serve: func(ctx context.Context) error {
			for runs.Load() < 3 {
				time.Sleep(10 * time.Millisecond)
			}
			return Fatal{errors.New("disk gone")}
		}},
	)
	if err != nil {
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
	if runs.Load() < 3 {
		t.Fatal("flaky not restarted")
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
}

func TestStopTimeout(t *testing.T) {
	s := New(slog.New(slog.DiscardHandler))
	s.StopTimeout = 200 * time.Millisecond
	block := make(chan struct{})
	defer close(block)
	s.Start(context.Background(), Component{Name: "stuck", Serve: func(context.Context) error { <-block; return nil }})
	if err := s.Stop(); err == nil {
		t.Fatal("stuck component reported as stopped")
	}
}
