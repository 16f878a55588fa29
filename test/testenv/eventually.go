package testenv

import (
	"testing"
	"time"
)

// EventuallyTimeout is how long Eventually waits: long enough for a loaded
// CI machine, so a timeout means "never", not "slow".
const EventuallyTimeout = 30 * time.Second

// Eventually waits until cond holds and fails the test (naming what) if it
// does not within EventuallyTimeout. It checks at once, then every few
// milliseconds, backing off to 100 ms. Use it for conditions another
// goroutine or process makes true; a condition that must stay false needs
// an event to wait for instead.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	EventuallyWithin(t, EventuallyTimeout, what, cond)
}

// EventuallyWithin is Eventually with its own timeout.
func EventuallyWithin(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	pause := 5 * time.Millisecond
	timer := time.NewTimer(pause)
	defer timer.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		timer.Reset(pause)
		<-timer.C
		pause = min(pause*2, 100*time.Millisecond)
	}
}
