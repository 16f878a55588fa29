package steadyclock

import (
	"errors"
	"testing"
	"time"
)

type fake struct {
	wall time.Time
	mono time.Duration
}

func (f *fake) advance(d time.Duration) { f.wall, f.mono = f.wall.Add(d), f.mono+d }

func TestJumpsReachNowOnlyThroughCheck(t *testing.T) {
	f := &fake{wall: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)}
	c := NewWith(func() time.Time { return f.wall }, func() time.Duration { return f.mono })
	f.advance(time.Minute)
	if got := c.Now(); !got.Equal(f.wall) {
		t.Fatalf("now %v, wall %v", got, f.wall)
	}
	// NTP sets the clock right: 26 years forward. Now does not move until
	// the owner of the deadlines moved them.
	f.wall = time.Date(2026, 12, 7, 4, 0, 0, 0, time.UTC)
	before := c.Now()
	f.advance(time.Second)
	if got := c.Now(); got.Sub(before) != time.Second {
		t.Fatalf("Now moved by %s before Check", got.Sub(before))
	}
	var moved time.Duration
	refuse := errors.New("disk full")
	if _, err := c.Check(func(d time.Duration) error { return refuse }); !errors.Is(err, refuse) {
		t.Fatal(err)
	}
	if got := c.Now(); got.Sub(before) != time.Second {
		t.Fatal("a failed jump handler let the jump into Now")
	}
	d, err := c.Check(func(d time.Duration) error { moved = d; return nil })
	if err != nil || d != moved || d < 26*365*24*time.Hour {
		t.Fatalf("jump %s (handler got %s), %v", d, moved, err)
	}
	if got := c.Now(); !got.Equal(f.wall) {
		t.Fatalf("after the jump now %v, wall %v", got, f.wall)
	}
	// Slewing under the threshold is taken in silently; backwards too.
	f.wall = f.wall.Add(time.Second)
	if d, _ := c.Check(func(time.Duration) error { t.Fatal("called for a second"); return nil }); d != 0 || !c.Now().Equal(f.wall) {
		t.Fatalf("slew: %s, now %v wall %v", d, c.Now(), f.wall)
	}
	f.wall = f.wall.Add(-time.Hour)
	if d, _ := c.Check(func(d time.Duration) error { moved = d; return nil }); d != -time.Hour || moved != -time.Hour {
		t.Fatalf("back an hour: %s", d)
	}
}
