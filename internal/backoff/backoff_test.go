package backoff

import (
	"context"
	"testing"
	"time"
)

func TestCeilingDoublesUpToMax(t *testing.T) {
	p := Policy{Min: 100 * time.Millisecond, Max: time.Second}
	want := []time.Duration{100, 200, 400, 800, 1000, 1000}
	for n, w := range want {
		if got := p.Ceiling(n); got != w*time.Millisecond {
			t.Errorf("Ceiling(%d) = %s, want %s", n, got, w*time.Millisecond)
		}
	}
	if got := p.Ceiling(1000); got != time.Second {
		t.Errorf("Ceiling(1000) = %s", got)
	}
}

func TestDelayWithoutJitterIsTheCeiling(t *testing.T) {
	p := Policy{Min: time.Second, Max: time.Minute}
	for n := range 10 {
		if p.Delay(n) != p.Ceiling(n) {
			t.Fatalf("Delay(%d) = %s, Ceiling %s", n, p.Delay(n), p.Ceiling(n))
		}
	}
}

func TestJitterStaysUnderTheCeilingAndSpreads(t *testing.T) {
	p := Policy{Min: time.Second, Max: 8 * time.Second, Jitter: true}
	seen := map[time.Duration]bool{}
	for range 200 {
		d := p.Delay(3)
		if d < 0 || d > 8*time.Second {
			t.Fatalf("Delay(3) = %s outside [0, 8s]", d)
		}
		seen[d] = true
	}
	if len(seen) < 100 {
		t.Fatalf("200 jittered delays took only %d values", len(seen))
	}
}

func TestSleepEndsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if Sleep(ctx, time.Hour) {
		t.Fatal("Sleep ran out on a cancelled context")
	}
	if !Sleep(context.Background(), time.Millisecond) {
		t.Fatal("Sleep did not run out")
	}
}
