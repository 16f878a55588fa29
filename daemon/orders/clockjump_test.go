package orders

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/storebox/storebox/daemon/payments"
	"github.com/storebox/storebox/internal/steadyclock"
	"github.com/storebox/storebox/protocol/ordermsg"
)

// A wall clock that jumps while orders wait for payment: set forward an
// hour (NTP finds a box that booted with the wrong time) they are not
// expired at once; set back they do not live an hour longer. Each keeps
// the time it had left, measured on the monotonic clock.
func TestWallClockJumpsKeepEachOrdersTimeLeft(t *testing.T) {
	wall := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	var mono time.Duration
	advance := func(d time.Duration) { wall, mono = wall.Add(d), mono+d }
	clock := steadyclock.NewWith(func() time.Time { return wall }, func() time.Duration { return mono })
	e := newEnv(t, Config{Now: clock.Now, TTL: 10 * time.Minute}, payments.Providers{})

	info, err := e.svc.GetPayInfo(context.Background(), "T-01", cashReq("jump", pcs("G1", 1)))
	if err != nil {
		t.Fatal(err)
	}
	created := e.order(info.OID).ExpiresAt
	advance(4 * time.Minute)

	check := func(jump time.Duration) {
		t.Helper()
		wall = wall.Add(jump)
		if d, err := clock.Check(e.svc.ShiftDeadlines); err != nil || d != jump {
			t.Fatalf("jump %s seen as %s, %v", jump, d, err)
		}
		if _, err := e.svc.expireDue(clock.Now()); err != nil {
			t.Fatal(err)
		}
	}
	check(time.Hour)
	o := e.order(info.OID)
	if o.Status != ordermsg.StatusPending || !o.ExpiresAt.Equal(created.Add(time.Hour)) {
		t.Fatalf("after the clock went an hour forward: %s, expires %v (was %v)", o.Status, o.ExpiresAt, created)
	}
	check(-3 * time.Hour)
	o = e.order(info.OID)
	if o.Status != ordermsg.StatusPending || !o.ExpiresAt.Equal(created.Add(-2*time.Hour)) {
		t.Fatalf("after the clock went three hours back: %s, expires %v", o.Status, o.ExpiresAt)
	}
	// It had 6 minutes left: 5m59s later it is still pending, at 6m it expires.
	advance(6*time.Minute - time.Second)
	if _, err := e.svc.expireDue(clock.Now()); err != nil {
		t.Fatal(err)
	}
	if st := e.order(info.OID).Status; st != ordermsg.StatusPending {
		t.Fatalf("expired early: %s", st)
	}
	advance(time.Second)
	if _, err := e.svc.expireDue(clock.Now()); err != nil {
		t.Fatal(err)
	}
	if st := e.order(info.OID).Status; st != ordermsg.StatusExpired {
		t.Fatalf("after its ten minutes: %s", st)
	}
}

// An order that expired while its QR payment may still come in is asked
// about for LatePoll after it closed. A wall clock set forward an hour in
// that time does not end the asking early (a payment made at the last
// second would be missed), and one set back keeps the orders owing work.
func TestWallClockJumpKeepsALatePaymentAskedAbout(t *testing.T) {
	wall := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	var mono time.Duration
	advance := func(d time.Duration) { wall, mono = wall.Add(d), mono+d }
	clock := steadyclock.NewWith(func() time.Time { return wall }, func() time.Duration { return mono })
	_, q := newBank(t)
	e := newEnv(t, Config{Now: clock.Now, TTL: 10 * time.Minute, LatePoll: 30 * time.Minute}, payments.Providers{Payment: q})
	info, err := e.svc.GetPayInfo(context.Background(), "T-01", qrReq("late", pcs("G1", 1)))
	if err != nil {
		t.Fatal(err)
	}
	advance(11 * time.Minute)
	if _, err := e.svc.expireDue(clock.Now()); err != nil {
		t.Fatal(err)
	}
	asked := func(when string) {
		t.Helper()
		o := e.order(info.OID)
		if o.Status != ordermsg.StatusExpired || !latePolled(e.svc.workFor(&o, clock.Now())) {
			t.Fatalf("%s: %s, work %v: the provider is no longer asked", when, o.Status, e.svc.workFor(&o, clock.Now()))
		}
	}
	asked("expired")
	for _, jump := range []time.Duration{time.Hour, -3 * time.Hour} {
		wall = wall.Add(jump)
		if _, err := clock.Check(e.svc.ShiftDeadlines); err != nil {
			t.Fatal(err)
		}
		asked(fmt.Sprintf("after a %s jump", jump))
	}
	// Still 30 minutes from closing on the monotonic clock.
	advance(30*time.Minute - time.Second)
	asked("a second before LatePoll ends")
	advance(2 * time.Second)
	if o := e.order(info.OID); latePolled(e.svc.workFor(&o, clock.Now())) {
		t.Fatalf("still asked after LatePoll: closed %v now %v", o.ClosedAt, clock.Now())
	}
	e.checkInvariants()
}
