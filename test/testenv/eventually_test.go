package testenv

import (
	"sync/atomic"
	"testing"
	"time"
)

func TestEventuallyWaitsForAnotherGoroutine(t *testing.T) {
	var done atomic.Bool
	go func() {
		time.AfterFunc(30*time.Millisecond, func() { done.Store(true) })
	}()
	Eventually(t, "the flag", done.Load)
}

// fatalRecorder records Fatalf instead of stopping the test.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (f *fatalRecorder) Helper() {}
func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.msg = format
}

func TestEventuallyFailsWhenNever(t *testing.T) {
	rec := &fatalRecorder{TB: t}
	calls := 0
	EventuallyWithin(rec, 50*time.Millisecond, "never", func() bool {
		calls++
		return rec.msg != "" // stop once the failure is recorded
	})
	if rec.msg == "" || calls < 2 {
		t.Fatalf("no failure after %d checks", calls)
	}
}
