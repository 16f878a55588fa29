package doors

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"runtime/pprof"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/storebox/storebox/daemon/config"
	"github.com/storebox/storebox/protocol/doormsg"
	"github.com/storebox/storebox/test/testenv"
)

const testStore = "s1"

// fakeOrders is the in-test OrderLookup; tests flip its maps.
type fakeOrders struct {
	mu      sync.Mutex
	pending map[string]bool
	expired map[string]bool
	err     error
}

func newFakeOrders() *fakeOrders {
	return &fakeOrders{pending: map[string]bool{}, expired: map[string]bool{}}
}

func (f *fakeOrders) HasPendingUnpaid(id string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.pending[id], f.err
}

func (f *fakeOrders) HasExpiredUnpaid(id string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.expired[id], f.err
}

func (f *fakeOrders) set(m map[string]bool, id string, v bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m[id] = v
}

type recorded struct {
	Type string
	Data doormsg.LedgerData
}

// fakeSink records ledger events and lets tests wait for them.
type fakeSink struct {
	mu     sync.Mutex
	events []recorded
	ch     chan recorded
}

func newFakeSink() *fakeSink { return &fakeSink{ch: make(chan recorded, 1024)} }

func (f *fakeSink) AppendEvent(typ string, data any) error {
	d, ok := data.(doormsg.LedgerData)
	if !ok {
		return errors.New("unexpected data type")
	}
	r := recorded{typ, d}
	f.mu.Lock()
	f.events = append(f.events, r)
	f.mu.Unlock()
	f.ch <- r
	return nil
}

func (f *fakeSink) all() []recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recorded(nil), f.events...)
}

// next waits for the next ledger event.
func (f *fakeSink) next(t *testing.T) recorded {
	t.Helper()
	select {
	case r := <-f.ch:
		return r
	case <-time.After(20 * time.Second):
		t.Fatal("no ledger event within 20s")
	}
	return recorded{}
}

type testService struct {
	*Service
	orders *fakeOrders
	sink   *fakeSink
	logs   *logWatch
}

// logWatch records what the service logs (message and door), so a test
// waits for the service to have handled something instead of sleeping.
type logWatch struct {
	mu    sync.Mutex
	lines map[string]int // "message door" → count
}

func (w *logWatch) Enabled(context.Context, slog.Level) bool { return true }
func (w *logWatch) WithAttrs([]slog.Attr) slog.Handler       { return w }
func (w *logWatch) WithGroup(string) slog.Handler            { return w }

func (w *logWatch) Handle(_ context.Context, r slog.Record) error {
	door := ""
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "door" {
			door = a.Value.String()
		}
		return true
	})
	w.mu.Lock()
	w.lines[r.Message+" "+door]++
	w.mu.Unlock()
	return nil
}

// seen reports whether the service logged msg about door.
func (w *logWatch) seen(msg, door string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.lines[msg+" "+door] > 0
}

// wait waits until the service logged msg about door.
func (w *logWatch) wait(t testing.TB, msg, door string) {
	t.Helper()
	testenv.Eventually(t, "the log line "+msg+" for "+door, func() bool { return w.seen(msg, door) })
}

func testLogger() *slog.Logger {
	if os.Getenv("DOORS_TEST_LOG") != "" {
		lv := slog.LevelDebug
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lv}))
	}
	return slog.New(slog.DiscardHandler)
}

// startService runs a Service on 127.0.0.1:0 until the test ends.
func startService(t testing.TB, doors []config.Door, tweak func(*Config)) *testService {
	t.Helper()
	cfg := Config{StoreID: testStore, MQTT: config.MQTT{Listen: "127.0.0.1:0"}, Doors: doors}
	if tweak != nil {
		tweak(&cfg)
	}
	ts := &testService{orders: newFakeOrders(), sink: newFakeSink(), logs: &logWatch{lines: map[string]int{}}}
	s, err := New(cfg, ts.orders, ts.sink, slog.New(slog.NewMultiHandler(testLogger().Handler(), ts.logs)))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Bind(); err != nil {
		t.Fatal(err)
	}
	ts.Service = s
	t.Cleanup(serve(t, s, 20*time.Second))
	return ts
}

// serve runs s until the returned stop is called. stop fails the test if
// Serve returns an error or does not end within timeout, with every
// goroutine's stack to show where it hangs.
func serve(t testing.TB, s *Service, timeout time.Duration) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	return func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve returned %v", err)
			}
		case <-time.After(timeout):
			var stacks strings.Builder
			pprof.Lookup("goroutine").WriteTo(&stacks, 1)
			t.Errorf("Serve did not stop; goroutines:\n%s", stacks.String())
		}
	}
}

// connectD1 is a raw MQTT 3.1.1 CONNECT for door "D1" (client id and user
// "D1", password "x") with the given keepalive in seconds.
func connectD1(keepalive byte) []byte {
	pkt := []byte{0x10, 0, 0, 4, 'M', 'Q', 'T', 'T', 4, 0xC2, 0, keepalive, 0, 2, 'D', '1', 0, 2, 'D', '1', 0, 1, 'x'}
	pkt[1] = byte(len(pkt) - 2)
	return pkt
}

func (ts *testService) status(id string) DoorStatus {
	for _, d := range ts.Snapshot() {
		if d.ID == id {
			return d
		}
	}
	return DoorStatus{}
}

// simDoor is a door built on paho.golang (MQTT v5).
type simDoor struct {
	t       testing.TB
	id      string
	cli     *paho.Client
	cmds    chan doormsg.Cmd
	autoAck func(doormsg.Cmd) *doormsg.Ack // nil result = no ack
}

type doorOpts struct {
	clientID  string // default the door id
	password  string
	keepalive uint16
	will      *paho.WillMessage
	noSub     bool
	dial      func() (net.Conn, error) // default: plain TCP to addr
}

// connectDoor connects a paho door and subscribes to its cmd topic. It
// returns the connack error (if any) instead of failing.
func connectDoor(t testing.TB, addr, id string, o doorOpts, ack func(doormsg.Cmd) *doormsg.Ack) (*simDoor, error) {
	t.Helper()
	dial := o.dial
	if dial == nil {
		dial = func() (net.Conn, error) { return net.DialTimeout("tcp", addr, 5*time.Second) }
	}
	conn, err := dial()
	if err != nil {
		return nil, err
	}
	d := &simDoor{t: t, id: id, cmds: make(chan doormsg.Cmd, 100), autoAck: ack}
	d.cli = paho.NewClient(paho.ClientConfig{
		Conn: conn,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
			c, err := doormsg.DecodeCmd(pr.Packet.Payload)
			if err != nil {
				t.Errorf("door %s: bad cmd %q: %v", id, pr.Packet.Payload, err)
				return true, nil
			}
			d.cmds <- c
			if d.autoAck != nil {
				if a := d.autoAck(c); a != nil {
					go d.publish(doormsg.KindAck, doormsg.Encode(a), false)
				}
			}
			return true, nil
		}},
	})
	cid := o.clientID
	if cid == "" {
		cid = id
	}
	if cid == "-" {
		cid = ""
	}
	ka := o.keepalive
	if ka == 0 {
		ka = 30
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = d.cli.Connect(ctx, &paho.Connect{ClientID: cid, Username: id, UsernameFlag: true,
		Password: []byte(o.password), PasswordFlag: true, KeepAlive: ka, CleanStart: true, WillMessage: o.will})
	if err != nil {
		conn.Close()
		return nil, err
	}
	t.Cleanup(func() { d.close() })
	if !o.noSub {
		sa, err := d.cli.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: doormsg.Topic(testStore, id, doormsg.KindCmd), QoS: 1}}})
		if err != nil {
			return nil, err
		}
		if len(sa.Reasons) != 1 || sa.Reasons[0] >= 0x80 {
			return nil, errors.New("subscription to own cmd refused")
		}
	}
	return d, nil
}

func mustDoor(t testing.TB, addr, id, pw string, ack func(doormsg.Cmd) *doormsg.Ack) *simDoor {
	t.Helper()
	d, err := connectDoor(t, addr, id, doorOpts{password: pw}, ack)
	if err != nil {
		t.Fatalf("door %s connect: %v", id, err)
	}
	return d
}

func ackOK(c doormsg.Cmd) *doormsg.Ack { return &doormsg.Ack{RequestID: c.RequestID, OK: true} }

func (d *simDoor) publish(kind string, body []byte, retain bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _ = d.cli.Publish(ctx, &paho.Publish{Topic: doormsg.Topic(testStore, d.id, kind), Payload: body, QoS: 1, Retain: retain})
}

func (d *simDoor) scan(openID string) {
	d.publish(doormsg.KindEvent, doormsg.Encode(doormsg.Event{Event: doormsg.EventScan, OpenID: openID}), false)
}

func (d *simDoor) close() {
	_ = d.cli.Disconnect(&paho.Disconnect{ReasonCode: 0})
}

// nextCmd waits for the next cmd the door received.
func (d *simDoor) nextCmd(t testing.TB) doormsg.Cmd {
	t.Helper()
	select {
	case c := <-d.cmds:
		return c
	case <-time.After(20 * time.Second):
		t.Fatalf("door %s: no cmd within 20s", d.id)
	}
	return doormsg.Cmd{}
}
