package doors

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	"golang.org/x/crypto/bcrypt"

	"github.com/storebox/storebox/daemon/config"
	"github.com/storebox/storebox/protocol/doormsg"
	"github.com/storebox/storebox/protocol/ledger"
	"github.com/storebox/storebox/test/testenv"
)

func TestScanOpensAndRecords(t *testing.T) {
	ts := startService(t, []config.Door{{ID: "D1", Secret: "s3cret", Policy: "entry", Terminal: "T-01", OpenMS: 2500}}, nil)
	d := mustDoor(t, ts.Addr(), "D1", "s3cret", ackOK)
	d.publish(doormsg.KindState, doormsg.Encode(doormsg.State{State: doormsg.StateClosed, At: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}), true)
	testenv.Eventually(t, "retained state", func() bool { return ts.status("D1").State == doormsg.StateClosed })

	if _, ok := ts.LastAdmitted("T-01"); ok {
		t.Fatal("LastAdmitted before any scan")
	}
	d.scan("alice")
	c := d.nextCmd(t)
	if c.Cmd != doormsg.CmdOpen || c.OpenID != "alice" || c.DurationMS != 2500 || c.RequestID == "" {
		t.Fatalf("cmd = %+v", c)
	}
	ev := ts.sink.next(t)
	if ev.Type != ledger.DoorOpened || ev.Data.Door != "D1" || ev.Data.OpenID != "alice" || ev.Data.Reason != "entry" ||
		ev.Data.RequestID != c.RequestID || ev.Data.Attempts != 1 {
		t.Fatalf("ledger = %+v", ev)
	}
	if got, ok := ts.LastAdmitted("T-01"); !ok || got != "alice" {
		t.Fatalf("LastAdmitted = %q %v", got, ok)
	}
	if _, ok := ts.LastAdmitted("T-99"); ok {
		t.Fatal("LastAdmitted for a terminal beside no door")
	}
	st := ts.status("D1")
	if !st.Online || st.LastOpen.Outcome != OutcomeOpened || st.LastSeen.IsZero() || !st.StateAt.Equal(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)) {
		t.Fatalf("status = %+v", st)
	}
	if s := ts.Stats(); s.Opened != 1 || s.DoorsOnline != 1 {
		t.Fatalf("stats = %+v", s)
	}
}

func TestEntryDeniesExpiredUnpaid(t *testing.T) {
	ts := startService(t, []config.Door{{ID: "D1", Secret: "x", Policy: "entry"}}, nil)
	ts.orders.set(ts.orders.expired, "bob", true)
	d := mustDoor(t, ts.Addr(), "D1", "x", ackOK)
	d.scan("bob")
	ev := ts.sink.next(t)
	if ev.Type != ledger.DoorDenied || ev.Data.Reason != "expired_unpaid_order" || ev.Data.OpenID != "bob" {
		t.Fatalf("ledger = %+v", ev)
	}
	select {
	case c := <-d.cmds:
		t.Fatalf("denied scan sent %+v", c)
	default:
	}
}

func TestNoAckRetriesExactly(t *testing.T) {
	const ackTimeout = 300 * time.Millisecond
	ts := startService(t, []config.Door{{ID: "D1", Secret: "x", Policy: "entry"}}, func(c *Config) { c.AckTimeout = ackTimeout })
	d := mustDoor(t, ts.Addr(), "D1", "x", nil)
	d.scan("carol")
	ev := ts.sink.next(t)
	if ev.Type != ledger.DoorOpenFailed || ev.Data.Attempts != DefaultSends || ev.Data.Error != "no_ack" || ev.Data.Reason != "entry" {
		t.Fatalf("ledger = %+v", ev)
	}
	// Every send is published before the failure is recorded, and the
	// broker hands one topic's messages to the door in order: a marker
	// published now arrives after any stray extra send.
	if err := ts.broker.Publish(doormsg.Topic(testStore, "D1", doormsg.KindCmd), doormsg.Encode(doormsg.Cmd{Cmd: doormsg.CmdOpen, RequestID: "marker"}), false, 0); err != nil {
		t.Fatal(err)
	}
	first := d.nextCmd(t)
	for i := 1; i < DefaultSends; i++ {
		if c := d.nextCmd(t); c.RequestID != first.RequestID {
			t.Fatalf("resend %d has requestId %q, want %q", i, c.RequestID, first.RequestID)
		}
	}
	if c := d.nextCmd(t); c.RequestID != "marker" {
		t.Fatalf("door received more than %d cmds: %+v", DefaultSends, c)
	}
	if s := ts.Stats(); s.OpenFailed != 1 || s.Resends != DefaultSends-1 {
		t.Fatalf("stats = %+v", s)
	}
	if _, ok := ts.LastAdmitted(""); ok {
		t.Fatal("failed opening counted as admitted")
	}
}

func TestAckOnSecondSend(t *testing.T) {
	ts := startService(t, []config.Door{{ID: "D1", Secret: "x", Policy: "staff", Staff: []string{"ops"}}}, func(c *Config) { c.AckTimeout = 300 * time.Millisecond })
	n := 0
	d := mustDoor(t, ts.Addr(), "D1", "x", func(c doormsg.Cmd) *doormsg.Ack {
		n++ // called on paho's single receive goroutine
		if n < 2 {
			return nil
		}
		return ackOK(c)
	})
	d.scan("ops")
	ev := ts.sink.next(t)
	if ev.Type != ledger.DoorOpened || ev.Data.Attempts != 2 || ev.Data.Reason != "staff" {
		t.Fatalf("ledger = %+v", ev)
	}
}

func TestNegativeAckIsNotRetried(t *testing.T) {
	ts := startService(t, []config.Door{{ID: "D1", Secret: "x", Policy: "exit"}}, nil)
	d := mustDoor(t, ts.Addr(), "D1", "x", func(c doormsg.Cmd) *doormsg.Ack {
		return &doormsg.Ack{RequestID: c.RequestID, OK: false, Error: "jammed"}
	})
	d.scan("dave")
	ev := ts.sink.next(t)
	if ev.Type != ledger.DoorOpenFailed || ev.Data.Attempts != 1 || !strings.Contains(ev.Data.Error, "jammed") {
		t.Fatalf("ledger = %+v", ev)
	}
}

func TestExitPendingThenPaid(t *testing.T) {
	ts := startService(t, []config.Door{{ID: "X1", Secret: "x", Policy: "exit", Terminal: "T-02"}}, nil)
	ts.orders.set(ts.orders.pending, "erin", true)
	d := mustDoor(t, ts.Addr(), "X1", "x", ackOK)
	d.scan("erin")
	if ev := ts.sink.next(t); ev.Type != ledger.DoorDenied || ev.Data.Reason != "pending_unpaid_order" || ev.Data.Policy != "exit" {
		t.Fatalf("ledger = %+v", ev)
	}
	ts.orders.set(ts.orders.pending, "erin", false) // paid
	d.scan("erin")
	if ev := ts.sink.next(t); ev.Type != ledger.DoorOpened || ev.Data.Reason != "exit" {
		t.Fatalf("ledger = %+v", ev)
	}
	ts.orders.mu.Lock()
	ts.orders.err = errors.New("store closed")
	ts.orders.mu.Unlock()
	d.scan("erin")
	if ev := ts.sink.next(t); ev.Type != ledger.DoorDenied || ev.Data.Reason != "lookup_failed" {
		t.Fatalf("ledger = %+v", ev)
	}
}

func TestStaffPolicy(t *testing.T) {
	ts := startService(t, []config.Door{{ID: "S1", Secret: "x", Policy: "staff", Staff: []string{"boss"}}}, nil)
	d := mustDoor(t, ts.Addr(), "S1", "x", ackOK)
	d.scan("stranger")
	if ev := ts.sink.next(t); ev.Type != ledger.DoorDenied || ev.Data.Reason != "not_staff" {
		t.Fatalf("ledger = %+v", ev)
	}
	d.scan("boss")
	if ev := ts.sink.next(t); ev.Type != ledger.DoorOpened {
		t.Fatalf("ledger = %+v", ev)
	}
}

func TestDisconnectShowsOfflineAndReconnectWorks(t *testing.T) {
	ts := startService(t, []config.Door{{ID: "D1", Secret: "x", Policy: "entry"}}, nil)
	d := mustDoor(t, ts.Addr(), "D1", "x", ackOK)
	testenv.Eventually(t, "online", func() bool { return ts.status("D1").Online })
	d.close()
	testenv.Eventually(t, "offline", func() bool { return !ts.status("D1").Online })
	if err := ts.Open(context.Background(), "D1", "", "test"); !errors.Is(err, ErrDoorOffline) {
		t.Fatalf("Open offline door: %v", err)
	}
	if ev := ts.sink.next(t); ev.Type != ledger.DoorOpenFailed || ev.Data.Error != "offline" {
		t.Fatalf("ledger = %+v", ev)
	}
	d2 := mustDoor(t, ts.Addr(), "D1", "x", ackOK)
	testenv.Eventually(t, "online again", func() bool { return ts.status("D1").Online })
	d2.scan("frank")
	if ev := ts.sink.next(t); ev.Type != ledger.DoorOpened || ev.Data.OpenID != "frank" {
		t.Fatalf("ledger = %+v", ev)
	}
	// Staff open through the API path.
	if err := ts.Open(context.Background(), "D1", "gina", ""); err != nil {
		t.Fatalf("Open: %v", err)
	}
	if ev := ts.sink.next(t); ev.Type != ledger.DoorOpened || ev.Data.Reason != "staff" || ev.Data.OpenID != "gina" {
		t.Fatalf("ledger = %+v", ev)
	}
	if err := ts.Open(context.Background(), "nope", "", ""); !errors.Is(err, ErrUnknownDoor) {
		t.Fatalf("Open unknown: %v", err)
	}
}

// A reconnect with the same client id takes the session over; the door
// must stay online although the old connection's disconnect comes later.
func TestTakeoverKeepsOnline(t *testing.T) {
	ts := startService(t, []config.Door{{ID: "D1", Secret: "x", Policy: "entry"}}, nil)
	d1 := mustDoor(t, ts.Addr(), "D1", "x", ackOK)
	d2 := mustDoor(t, ts.Addr(), "D1", "x", ackOK)
	// However the broker ends the old connection, its disconnect reaches
	// the service after the new session; wait until it has been handled.
	d1.close()
	ts.logs.wait(t, "door disconnected", "D1")
	if !ts.status("D1").Online {
		t.Fatal("door offline after session takeover")
	}
	d2.scan("hal")
	if ev := ts.sink.next(t); ev.Type != ledger.DoorOpened {
		t.Fatalf("ledger = %+v", ev)
	}
}

// A client id naming another door, or the daemon's inline client, takes
// nothing over: the other door stays connected and keeps getting its cmds.
func TestClientIDCannotTakeOver(t *testing.T) {
	ts := startService(t, []config.Door{{ID: "D1", Secret: "x", Policy: "entry"}, {ID: "D2", Secret: "y", Policy: "entry"}}, nil)
	d2 := mustDoor(t, ts.Addr(), "D2", "y", ackOK)
	for _, cid := range []string{"D2", "inline"} {
		if _, err := connectDoor(t, ts.Addr(), "D1", doorOpts{password: "x", clientID: cid, noSub: true}, nil); err != nil {
			t.Fatalf("D1 as client id %q: %v", cid, err)
		}
	}
	// A takeover would have stopped D2's connection before the CONNACK
	// above; D2 still answering a cmd over it proves it was not.
	d2.scan("jo")
	if ev := ts.sink.next(t); ev.Type != ledger.DoorOpened || ev.Data.Door != "D2" {
		t.Fatalf("ledger = %+v", ev)
	}
	if !ts.status("D2").Online {
		t.Fatal("D2 knocked offline")
	}
	if ts.logs.seen("door disconnected", "D2") {
		t.Fatal("D2's connection was closed")
	}
}

func TestKeepaliveExpiryShowsOffline(t *testing.T) {
	ts := startService(t, []config.Door{{ID: "D1", Secret: "x", Policy: "entry"}}, nil)
	c, err := net.Dial("tcp", ts.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(connectD1(1)); err != nil { // keepalive 1 s
		t.Fatal(err)
	}
	ack := make([]byte, 4)
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Read(ack); err != nil || ack[0] != 0x20 || ack[3] != 0 {
		t.Fatalf("connack %x %v", ack, err)
	}
	testenv.Eventually(t, "online", func() bool { return ts.status("D1").Online })
	// No PINGREQ: the broker drops the door after 1.5 × keepalive.
	testenv.Eventually(t, "offline after keepalive", func() bool { return !ts.status("D1").Online })
}

func TestWillOnStateTopic(t *testing.T) {
	ts := startService(t, []config.Door{{ID: "D1", Secret: "x", Policy: "entry"}}, nil)
	will := &paho.WillMessage{Topic: doormsg.Topic(testStore, "D1", doormsg.KindState), Retain: true,
		Payload: doormsg.Encode(doormsg.State{State: doormsg.StateFault, At: time.Now().UTC()})}
	d, err := connectDoor(t, ts.Addr(), "D1", doorOpts{password: "x", will: will}, ackOK)
	if err != nil {
		t.Fatal(err)
	}
	d.publish(doormsg.KindState, doormsg.Encode(doormsg.State{State: doormsg.StateClosed, At: time.Now().UTC()}), true)
	testenv.Eventually(t, "closed", func() bool { return ts.status("D1").State == doormsg.StateClosed })
	d.cli.TerminateConnectionForTest() // no DISCONNECT: the will is sent
	testenv.Eventually(t, "fault from will", func() bool { return ts.status("D1").State == doormsg.StateFault })
}

func TestConnectRefusals(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("hashed-pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	ts := startService(t, []config.Door{
		{ID: "D1", Secret: "x", Policy: "entry"},
		{ID: "D2", Secret: string(hash), Policy: "entry"},
	}, nil)
	refused := func(name, id string, o doorOpts) {
		t.Helper()
		if d, err := connectDoor(t, ts.Addr(), id, o, nil); err == nil {
			d.close()
			t.Errorf("%s: connected", name)
		}
	}
	refused("wrong password", "D1", doorOpts{password: "y"})
	refused("unknown door", "D9", doorOpts{password: "x"})
	refused("will on another door", "D1", doorOpts{password: "x", will: &paho.WillMessage{Topic: doormsg.Topic(testStore, "D2", doormsg.KindEvent), Payload: []byte("{}")}})
	refused("will on cmd", "D1", doorOpts{password: "x", will: &paho.WillMessage{Topic: doormsg.Topic(testStore, "D1", doormsg.KindCmd), Payload: []byte("{}")}})
	refused("bcrypt wrong", "D2", doorOpts{password: "x"})
	refused("bcrypt hash as password", "D2", doorOpts{password: string(hash)})
	for i := 0; i < 2; i++ { // the second time hits the remembered digest
		d, err := connectDoor(t, ts.Addr(), "D2", doorOpts{password: "hashed-pw"}, nil)
		if err != nil {
			t.Fatalf("bcrypt door: %v", err)
		}
		d.close()
	}
	if _, err := connectDoor(t, ts.Addr(), "D1", doorOpts{password: "x", clientID: "-"}, nil); err != nil {
		t.Fatalf("empty client id: %v", err)
	}
	if s := ts.Stats(); s.AuthRefused != 6 {
		t.Errorf("AuthRefused = %d, want 6", s.AuthRefused)
	}
}

// Garbage on the port and a client that never sends CONNECT neither stop
// the broker nor bother a real door.
func TestBrokerSurvivesGarbage(t *testing.T) {
	ts := startService(t, []config.Door{{ID: "D1", Secret: "x", Policy: "entry"}}, func(c *Config) { c.ConnectTimeout = 500 * time.Millisecond })
	silent, err := net.Dial("tcp", ts.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	for _, junk := range [][]byte{
		[]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
		{0x10, 0xff, 0xff, 0xff, 0xff, 0x7f},               // bad remaining length
		{0x30, 0x05, 0, 1, 'a', 'b', 'c'},                  // PUBLISH before CONNECT
		{0x10, 0x0c, 0, 4, 'M', 'Q', 'T', 'T', 9, 2, 0, 0}, // protocol level 9
		make([]byte, 4096),
	} {
		c, err := net.Dial("tcp", ts.Addr())
		if err != nil {
			t.Fatal(err)
		}
		_, _ = c.Write(junk)
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		buf := make([]byte, 64)
		for { // the broker must close it (after a CONNACK refusal at most)
			if _, err := c.Read(buf); err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					t.Errorf("junk %x: connection left open", junk[:min(len(junk), 8)])
				}
				break
			}
		}
		c.Close()
	}
	d := mustDoor(t, ts.Addr(), "D1", "x", ackOK)
	d.scan("ivy")
	if ev := ts.sink.next(t); ev.Type != ledger.DoorOpened {
		t.Fatalf("ledger = %+v", ev)
	}
	// The silent client is dropped after ConnectTimeout.
	_ = silent.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := silent.Read(make([]byte, 1)); err == nil {
		t.Fatal("silent client got data")
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("silent client never dropped")
	}
}

func TestBindFailsFast(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	s, err := New(Config{StoreID: testStore, MQTT: config.MQTT{Listen: busy.Addr().String()}}, newFakeOrders(), newFakeSink(), nil)
	if err != nil {
		t.Fatal(err)
	}
	err = s.Bind()
	want := "mqtt.listen " + busy.Addr().String() + ": address already in use"
	if err == nil || err.Error() != want {
		t.Fatalf("Start = %v, want %q", err, want)
	}
	err = s.Serve(context.Background())
	if err == nil {
		t.Fatal("Serve started on a busy port")
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	for name, c := range map[string]Config{
		"no store":     {},
		"bad policy":   {StoreID: "s", Doors: []config.Door{{ID: "a", Secret: "x", Policy: "maybe"}}},
		"dup":          {StoreID: "s", Doors: []config.Door{{ID: "a", Secret: "x", Policy: "entry"}, {ID: "a", Secret: "x", Policy: "entry"}}},
		"inline id":    {StoreID: "s", Doors: []config.Door{{ID: "inline", Secret: "x", Policy: "entry"}}},
		"wild id":      {StoreID: "s", Doors: []config.Door{{ID: "a/#", Secret: "x", Policy: "entry"}}},
		"bad bcrypt":   {StoreID: "s", Doors: []config.Door{{ID: "a", Secret: "$2a$10$short", Policy: "entry"}}},
		"empty secret": {StoreID: "s", Doors: []config.Door{{ID: "a", Policy: "entry"}}},
	} {
		if _, err := New(c, newFakeOrders(), newFakeSink(), nil); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestLastAdmittedForgets(t *testing.T) {
	ts := startService(t, []config.Door{{ID: "D1", Secret: "x", Policy: "entry", Terminal: "T-01"}}, func(c *Config) { c.AdmittedTTL = 100 * time.Millisecond })
	d := mustDoor(t, ts.Addr(), "D1", "x", ackOK)
	d.scan("kim")
	if ev := ts.sink.next(t); ev.Type != ledger.DoorOpened {
		t.Fatalf("ledger = %+v", ev)
	}
	testenv.Eventually(t, "LastAdmitted to forget kim after the TTL", func() bool {
		_, ok := ts.LastAdmitted("T-01")
		return !ok
	})
}

// The broker stops while doors keep connecting and leaving: a client
// joining or leaving during Close once deadlocked mochi's clients lock
// (see closeListenerClients), so the daemon never stopped.
func TestCloseWhileDoorsChurn(t *testing.T) {
	for range 15 {
		cfg := Config{StoreID: testStore, MQTT: config.MQTT{Listen: "127.0.0.1:0"}, Doors: []config.Door{{ID: "D1", Secret: "x", Policy: "entry"}}}
		s, err := New(cfg, newFakeOrders(), newFakeSink(), testLogger())
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Bind(); err != nil {
			t.Fatal(err)
		}
		stopServe := serve(t, s, 15*time.Second)
		stop := make(chan struct{})
		var wg sync.WaitGroup
		var churned atomic.Int64
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					c, err := net.DialTimeout("tcp", s.Addr(), time.Second)
					if err != nil {
						continue
					}
					c.Write(connectD1(30))
					c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
					c.Read(make([]byte, 4))
					c.Close()
					churned.Add(1)
				}
			}()
		}
		testenv.Eventually(t, "doors churning", func() bool { return churned.Load() >= 8 })
		stopServe()
		close(stop)
		wg.Wait()
		if t.Failed() {
			return
		}
	}
}

// A reload keeps unchanged doors connected, disconnects a changed door so
// it comes back under its new secret, admits an added door, refuses a
// removed one, and changes nothing when the new configuration is bad.
func TestReloadDoors(t *testing.T) {
	ts := startService(t, []config.Door{
		{ID: "D1", Secret: "one", Policy: "entry"},
		{ID: "D2", Secret: "two", Policy: "entry"},
		{ID: "D3", Secret: "three", Policy: "entry"},
	}, nil)
	d1 := mustDoor(t, ts.Addr(), "D1", "one", ackOK)
	mustDoor(t, ts.Addr(), "D2", "two", ackOK)
	mustDoor(t, ts.Addr(), "D3", "three", ackOK)
	testenv.Eventually(t, "doors online", func() bool { return ts.status("D2").Online && ts.status("D3").Online })

	if _, err := ts.Reload([]config.Door{{ID: "D1", Secret: "one", Policy: "bogus"}}); err == nil {
		t.Fatal("a bad policy reloaded")
	}
	if !ts.status("D2").Online || len(ts.Snapshot()) != 3 {
		t.Fatal("a failed reload changed the doors")
	}

	res, err := ts.Reload([]config.Door{
		{ID: "D1", Secret: "one", Policy: "entry"},
		{ID: "D2", Secret: "two-new", Policy: "exit"},
		{ID: "D4", Secret: "four", Policy: "entry"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(res.Added, res.Changed, res.Removed) != "[D4] [D2] [D3]" {
		t.Fatalf("reload result %+v", res)
	}
	testenv.Eventually(t, "changed door disconnected", func() bool { return !ts.status("D2").Online })
	if got := ts.Snapshot(); len(got) != 3 || got[0].ID != "D1" || got[1].ID != "D2" || got[1].Policy != "exit" || got[2].ID != "D4" {
		t.Fatalf("doors after reload: %+v", got)
	}
	// The unchanged door never dropped and still opens on a scan.
	if !ts.status("D1").Online {
		t.Fatal("unchanged door went offline")
	}
	d1.scan("carol")
	if ev := ts.sink.next(t); ev.Type != ledger.DoorOpened || ev.Data.Door != "D1" {
		t.Fatalf("ledger = %+v", ev)
	}
	for _, c := range []struct{ id, pw string }{{"D2", "two"}, {"D3", "three"}} {
		if _, err := connectDoor(t, ts.Addr(), c.id, doorOpts{password: c.pw, noSub: true}, nil); err == nil {
			t.Fatalf("%s connected with %q after the reload", c.id, c.pw)
		}
	}
	d2 := mustDoor(t, ts.Addr(), "D2", "two-new", ackOK)
	mustDoor(t, ts.Addr(), "D4", "four", ackOK)
	// The changed door has a scan worker again.
	d2.scan("dave")
	if ev := ts.sink.next(t); ev.Data.Door != "D2" {
		t.Fatalf("ledger = %+v", ev)
	}
}

// connect311 is a raw MQTT 3.1.1 CONNECT with the given username and
// password (each sent only when its flag is set).
func connect311(user string, userFlag bool, pw string, pwFlag bool) []byte {
	flags := byte(0x02) // clean session
	payload := []byte{0, 2, 'c', '1'}
	if userFlag {
		flags |= 0x80
		payload = append(payload, 0, byte(len(user)))
		payload = append(payload, user...)
	}
	if pwFlag {
		flags |= 0x40
		payload = append(payload, 0, byte(len(pw)))
		payload = append(payload, pw...)
	}
	pkt := append([]byte{0x10, 0, 0, 4, 'M', 'Q', 'T', 'T', 4, flags, 0, 30}, payload...)
	pkt[1] = byte(len(pkt) - 2)
	return pkt
}

// An MQTT 3.1.1 client is refused with a return code 3.1.1 defines (4 or
// 5), never a v5 reason code such as 130 — an empty password included.
func TestConnackCodesAreMQTT311(t *testing.T) {
	ts := startService(t, []config.Door{{ID: "D1", Secret: "x", Policy: "entry"}}, nil)
	for _, c := range []struct {
		name string
		pkt  []byte
	}{
		{"empty password", connect311("D1", true, "", true)},
		{"wrong password", connect311("D1", true, "y", true)},
		{"no password", connect311("D1", true, "", false)},
		{"anonymous", connect311("", false, "", false)},
		{"password without username", connect311("", false, "x", true)},
	} {
		conn, err := net.Dial("tcp", ts.Addr())
		if err != nil {
			t.Fatal(err)
		}
		conn.Write(c.pkt)
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		ack := make([]byte, 4)
		n, err := io.ReadFull(conn, ack)
		conn.Close()
		if err != nil {
			t.Errorf("%s: no CONNACK (%d bytes): %v", c.name, n, err)
			continue
		}
		if ack[0] != 0x20 || ack[1] != 2 || (ack[3] != 4 && ack[3] != 5) {
			t.Errorf("%s: CONNACK %x, want return code 4 or 5", c.name, ack)
		}
	}
	// A persistent session without a client id: 2, identifier rejected.
	noID := []byte{0x10, 0, 0, 4, 'M', 'Q', 'T', 'T', 4, 0xC0, 0, 30, 0, 0, 0, 2, 'D', '1', 0, 1, 'x'}
	noID[1] = byte(len(noID) - 2)
	conn, err := net.Dial("tcp", ts.Addr())
	if err != nil {
		t.Fatal(err)
	}
	conn.Write(noID)
	ack := make([]byte, 4)
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(conn, ack); err != nil || ack[3] != 2 {
		t.Errorf("persistent session without client id: CONNACK %x %v, want return code 2", ack, err)
	}
	conn.Close()
	// The right password still connects.
	conn, err = net.Dial("tcp", ts.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.Write(connect311("D1", true, "x", true))
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(conn, ack); err != nil || ack[3] != 0 {
		t.Fatalf("right password: CONNACK %x %v", ack, err)
	}
}

// open_ms = 0 is documented as 3000: the cmd always carries duration_ms
// (PROTOCOL.md §4), and with 0 it carries the default.
func TestOpenMSZeroSendsDefault(t *testing.T) {
	ts := startService(t, []config.Door{{ID: "D1", Secret: "s", Policy: "entry"}}, nil)
	d := mustDoor(t, ts.Addr(), "D1", "s", ackOK)
	d.scan("bob")
	if c := d.nextCmd(t); c.DurationMS != DefaultOpenMS || DefaultOpenMS != 3000 {
		t.Fatalf("cmd duration_ms = %d, want 3000", c.DurationMS)
	}
}
