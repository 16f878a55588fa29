package doorsim

import (
	"bytes"
	"context"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/storebox/storebox/daemon/config"
	"github.com/storebox/storebox/daemon/doors"
	"github.com/storebox/storebox/protocol/doormsg"
	"github.com/storebox/storebox/protocol/ledger"
	"github.com/storebox/storebox/test/testenv"
)

type noOrders struct{}

func (noOrders) HasPendingUnpaid(string) (bool, error) { return false, nil }
func (noOrders) HasExpiredUnpaid(string) (bool, error) { return false, nil }

type sink struct{ ch chan string }

func (s sink) AppendEvent(typ string, data any) error {
	s.ch <- typ + " " + data.(doormsg.LedgerData).OpenID
	return nil
}

func startDaemon(t *testing.T) (*doors.Service, chan string) {
	t.Helper()
	ev := make(chan string, 100)
	s, err := doors.New(doors.Config{StoreID: "s1", MQTT: config.MQTT{Listen: "127.0.0.1:0"}, AckTimeout: 300 * time.Millisecond,
		Doors: []config.Door{{ID: "D1", Secret: "pw", Policy: "entry", OpenMS: 200}}}, noOrders{}, sink{ev}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Bind(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = s.Serve(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return s, ev
}

func nextEvent(t *testing.T, ch chan string) string {
	t.Helper()
	select {
	case e := <-ch:
		return e
	case <-time.After(20 * time.Second):
		t.Fatal("no ledger event")
	}
	return ""
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func TestRunScanOpensAndCloses(t *testing.T) {
	s, ev := startDaemon(t)
	pr, pw := io.Pipe()
	out := &syncBuf{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- Run(ctx, Config{Broker: s.Addr(), StoreID: "s1", DoorID: "D1", Secret: "pw"}, pr, out) }()
	testenv.Eventually(t, "connected", func() bool { return strings.Contains(out.String(), "connected") })
	testenv.Eventually(t, "closed state", func() bool { return s.Snapshot()[0].State == doormsg.StateClosed })
	_, _ = io.WriteString(pw, "bogus\nscan alice C-1\n")
	if e := nextEvent(t, ev); e != ledger.DoorOpened+" alice" {
		t.Fatalf("event %q", e)
	}
	testenv.Eventually(t, "open state", func() bool { return s.Snapshot()[0].State == doormsg.StateOpen })
	testenv.Eventually(t, "closed after duration", func() bool { return s.Snapshot()[0].State == doormsg.StateClosed })
	_, _ = io.WriteString(pw, "state fault\n")
	testenv.Eventually(t, "fault state", func() bool { return s.Snapshot()[0].State == doormsg.StateFault })
	_, _ = io.WriteString(pw, "quit\n")
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"unknown command", "cmd open requestId=", "openId=alice", "acked"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	testenv.Eventually(t, "offline", func() bool { return !s.Snapshot()[0].Online })
}

func TestNoAck(t *testing.T) {
	s, ev := startDaemon(t)
	var mu sync.Mutex
	var got []string // openIds of the cmds seen
	d, err := Start(context.Background(), Config{Broker: s.Addr(), StoreID: "s1", DoorID: "D1", Secret: "pw", NoAck: true,
		OnCmd: func(c doormsg.Cmd) { mu.Lock(); got = append(got, c.OpenID); mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.Scan(context.Background(), "bob", ""); err != nil {
		t.Fatal(err)
	}
	if e := nextEvent(t, ev); e != ledger.DoorOpenFailed+" bob" {
		t.Fatalf("event %q", e)
	}
	// Every send is published before the failure is recorded, and the
	// broker delivers the door's cmds in order: the cmd of a later open
	// arrives after any stray extra send of bob's.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Open(ctx, "D1", "marker", "test")
	seen := func() []string { mu.Lock(); defer mu.Unlock(); return slices.Clone(got) }
	testenv.Eventually(t, "the later open's cmd", func() bool { return slices.Contains(seen(), "marker") })
	if cmds := seen(); slices.Index(cmds, "marker") != doors.DefaultSends {
		t.Fatalf("door saw %v before the later open, want bob %d times", cmds, doors.DefaultSends)
	}
}

func TestWrongSecretFailsFast(t *testing.T) {
	s, _ := startDaemon(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := Start(ctx, Config{Broker: s.Addr(), StoreID: "s1", DoorID: "D1", Secret: "nope"})
	if err == nil || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("Start = %v", err)
	}
	if ctx.Err() != nil {
		t.Fatal("refusal was not reported before the deadline")
	}
}
