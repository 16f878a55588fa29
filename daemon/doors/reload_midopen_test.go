package doors

import (
	"testing"
	"time"

	"github.com/storebox/storebox/daemon/config"
	"github.com/storebox/storebox/protocol/doormsg"
	"github.com/storebox/storebox/protocol/ledger"
	"github.com/storebox/storebox/test/testenv"
)

// TestReloadWhileDoorMidOpen: a reload that lands while a door has an open
// command out and no ack yet loses nothing. An unchanged door's open
// completes on its ack; a door whose secret changed is disconnected, and the
// open in flight is still settled exactly once — here the door reconnects
// with the new secret, receives the resend of the same request and acks it,
// and the next scan opens as usual.
func TestReloadWhileDoorMidOpen(t *testing.T) {
	ts := startService(t, []config.Door{{ID: "D1", Secret: "one", Policy: "entry"}},
		func(c *Config) { c.AckTimeout = 2 * time.Second })
	d1 := mustDoor(t, ts.Addr(), "D1", "one", nil) // acks by hand below
	testenv.Eventually(t, "D1 online", func() bool { return ts.status("D1").Online })

	// Unchanged door: the open in flight completes across a reload that adds a door.
	d1.scan("carol")
	cmd := d1.nextCmd(t)
	if _, err := ts.Reload([]config.Door{{ID: "D1", Secret: "one", Policy: "entry"}, {ID: "D2", Secret: "two", Policy: "entry"}}); err != nil {
		t.Fatal(err)
	}
	d1.publish(doormsg.KindAck, doormsg.Encode(doormsg.Ack{RequestID: cmd.RequestID, OK: true}), false)
	ev := ts.sink.next(t)
	if ev.Type != ledger.DoorOpened || ev.Data.Door != "D1" || ev.Data.RequestID != cmd.RequestID || ev.Data.Attempts != 1 {
		t.Fatalf("open across an unrelated reload: %+v", ev)
	}

	// Changed door: its secret changes while an open is out.
	d1.scan("dave")
	cmd = d1.nextCmd(t)
	if _, err := ts.Reload([]config.Door{{ID: "D1", Secret: "one-new", Policy: "entry"}, {ID: "D2", Secret: "two", Policy: "entry"}}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, "changed door disconnected", func() bool { return !ts.status("D1").Online })
	d1b := mustDoor(t, ts.Addr(), "D1", "one-new", ackOK)
	resend := d1b.nextCmd(t)
	if resend.RequestID != cmd.RequestID || resend.OpenID != "dave" {
		t.Fatalf("after reconnecting the door got %+v, want a resend of %s", resend, cmd.RequestID)
	}
	ev = ts.sink.next(t)
	if ev.Type != ledger.DoorOpened || ev.Data.RequestID != cmd.RequestID || ev.Data.OpenID != "dave" || ev.Data.Attempts < 2 {
		t.Fatalf("open across the door's own reload: %+v", ev)
	}
	// Settled once: one outcome per request, and the daemon goes on opening.
	d1b.scan("erin")
	if ev := ts.sink.next(t); ev.Type != ledger.DoorOpened || ev.Data.OpenID != "erin" {
		t.Fatalf("next open after the reload: %+v", ev)
	}
	outcomes := map[string]int{}
	for _, r := range ts.sink.all() {
		outcomes[r.Data.RequestID]++
	}
	for id, n := range outcomes {
		if n != 1 {
			t.Fatalf("request %s settled %d times: %+v", id, n, ts.sink.all())
		}
	}
}
