package doors

import (
	"bufio"
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/storebox/storebox/daemon/config"
	"github.com/storebox/storebox/protocol/doormsg"
	"github.com/storebox/storebox/protocol/ledger"
	"github.com/storebox/storebox/test/testenv"
)

// These tests use Debian's mosquitto-clients as a door written by someone
// else: MQTT 3.1.1 by default, 5 with -V mqttv5.

func mosq(t *testing.T, ts *testService, prog string, args ...string) (string, error) {
	t.Helper()
	testenv.RequireCommand(t, prog)
	_, port, _ := strings.Cut(ts.Addr(), ":")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, prog, append([]string{"-h", "127.0.0.1", "-p", port}, args...)...).CombinedOutput()
	return string(out), err
}

func twoDoors(t *testing.T, ackTimeout time.Duration) *testService {
	return startService(t, []config.Door{{ID: "A", Secret: "secret-a", Policy: "entry"}, {ID: "B", Secret: "secret-b", Policy: "entry"}},
		func(c *Config) { c.AckTimeout = ackTimeout })
}

func TestMosquittoAuth(t *testing.T) {
	ts := twoDoors(t, 500*time.Millisecond)
	for name, args := range map[string][]string{
		"anonymous":         {"-t", "storebox/s1/door/A/event", "-m", "{}"},
		"wrong password":    {"-u", "A", "-P", "secret-b", "-i", "A", "-t", "storebox/s1/door/A/event", "-m", "{}"},
		"no password":       {"-u", "A", "-i", "A", "-t", "storebox/s1/door/A/event", "-m", "{}"},
		"wrong password v5": {"-V", "mqttv5", "-u", "A", "-P", "x", "-i", "A", "-t", "storebox/s1/door/A/event", "-m", "{}"},
		"unknown user":      {"-u", "Z", "-P", "secret-a", "-i", "Z", "-t", "storebox/s1/door/A/event", "-m", "{}"},
	} {
		out, err := mosq(t, ts, "mosquitto_pub", args...)
		low := strings.ToLower(out)
		if err == nil || !(strings.Contains(low, "not authori") || strings.Contains(low, "bad user name or password")) {
			t.Errorf("%s: err=%v out=%q, want refusal", name, err, out)
		}
	}
	if out, err := mosq(t, ts, "mosquitto_pub", "-u", "A", "-P", "secret-a", "-i", "A", "-t", "storebox/s1/door/A/state", "-m", `{"state":"closed"}`, "-r"); err != nil {
		t.Fatalf("valid door refused: %v %s", err, out)
	}
	testenv.Eventually(t, "state from mosquitto door", func() bool { return ts.status("A").State == doormsg.StateClosed })
	if len(ts.sink.all()) != 0 {
		t.Fatalf("ledger events from refused clients: %+v", ts.sink.all())
	}
}

func TestMosquittoACL(t *testing.T) {
	ts := twoDoors(t, 500*time.Millisecond)
	asA := []string{"-u", "A", "-P", "secret-a", "-i", "A"}
	// B is a real door listening on its cmd topic.
	b := mustDoor(t, ts.Addr(), "B", "secret-b", ackOK)

	// A publishing B's topics, and any cmd: refused with PUBACK "not authorized" (v5, QoS 1)...
	forbidden := []string{
		doormsg.Topic(testStore, "B", doormsg.KindEvent), doormsg.Topic(testStore, "B", doormsg.KindState),
		doormsg.Topic(testStore, "B", doormsg.KindAck), doormsg.Topic(testStore, "B", doormsg.KindCmd),
		doormsg.Topic(testStore, "A", doormsg.KindCmd), "storebox/s1/door/A/other", "anything",
	}
	fakeCmd := `{"cmd":"open","requestId":"forged","duration_ms":1000}`
	fakeScan := `{"event":"scan","openId":"mallory"}`
	fakeState := `{"state":"open"}`
	for _, topic := range forbidden {
		body := fakeCmd
		if strings.HasSuffix(topic, "/event") {
			body = fakeScan
		} else if strings.HasSuffix(topic, "/state") {
			body = fakeState
		}
		out, err := mosq(t, ts, "mosquitto_pub", append(asA, "-V", "mqttv5", "-q", "1", "-t", topic, "-m", body)...)
		if !strings.Contains(strings.ToLower(out), "not authorized") {
			t.Errorf("v5 publish to %s: err=%v out=%q, want not authorized", topic, err, out)
		}
		// ...and silently dropped at QoS 0, v3.1.1.
		if out, err := mosq(t, ts, "mosquitto_pub", append(asA, "-r", "-t", topic, "-m", body)...); err != nil {
			t.Errorf("v3 qos0 publish to %s: %v %s", topic, err, out)
		}
	}
	// A may not subscribe to B's cmd, nor with wildcards, nor to others' topics.
	for _, filter := range []string{doormsg.Topic(testStore, "B", doormsg.KindCmd), "storebox/s1/door/+/cmd", "#",
		"storebox/s1/door/A/#", "$SYS/#", doormsg.Topic(testStore, "B", doormsg.KindEvent), doormsg.Topic(testStore, "A", doormsg.KindAck)} {
		out, _ := mosq(t, ts, "mosquitto_sub", append(asA, "-t", filter, "-W", "3")...)
		if !strings.Contains(out, "denied") {
			t.Errorf("subscribe %s: out=%q, want denied", filter, out)
		}
	}

	// A's own scan is processed; none of the forged ones were.
	if out, err := mosq(t, ts, "mosquitto_pub", append(asA, "-q", "1", "-t", doormsg.Topic(testStore, "A", doormsg.KindEvent), "-m", `{"event":"scan","openId":"alice"}`)...); err != nil {
		t.Fatalf("own scan: %v %s", err, out)
	}
	ev := ts.sink.next(t) // A has no subscriber: open fails after the retries
	if ev.Data.Door != "A" || ev.Data.OpenID != "alice" {
		t.Fatalf("ledger = %+v", ev)
	}
	if st := ts.status("B"); st.State != "" {
		t.Errorf("B's state set by A: %+v", st)
	}
	// B's first cmd is the daemon's, not the forged one.
	if err := ts.Open(context.Background(), "B", "", "staff"); err != nil {
		t.Fatalf("Open B: %v", err)
	}
	if c := b.nextCmd(t); c.RequestID == "forged" {
		t.Fatal("B received a cmd forged by A")
	}
	if ev := ts.sink.next(t); ev.Type != ledger.DoorOpened || ev.Data.Door != "B" {
		t.Fatalf("ledger = %+v", ev)
	}
	for _, e := range ts.sink.all() {
		if e.Data.OpenID == "mallory" {
			t.Fatalf("forged scan recorded: %+v", e)
		}
	}
}

// A mosquitto door receives its cmd and acks it; Open returns success.
func TestMosquittoDoorReceivesCmd(t *testing.T) {
	ts := twoDoors(t, 10*time.Second) // the ack comes from a mosquitto_pub started after the cmd
	testenv.RequireCommand(t, "mosquitto_sub")
	_, port, _ := strings.Cut(ts.Addr(), ":")
	sub := exec.Command("mosquitto_sub", "-h", "127.0.0.1", "-p", port, "-u", "A", "-P", "secret-a", "-i", "A",
		"-t", doormsg.Topic(testStore, "A", doormsg.KindCmd), "-C", "1", "-W", "30")
	stdout, err := sub.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Process.Kill(); _ = sub.Wait() }()
	testenv.Eventually(t, "mosquitto door subscribed to its cmd topic", func() bool {
		return len(ts.broker.Topics.Subscribers(doormsg.Topic(testStore, "A", doormsg.KindCmd)).Subscriptions) > 0
	})

	res := make(chan error, 1)
	go func() {
		res <- ts.Open(context.Background(), "A", "olga", "staff")
	}()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("mosquitto_sub: %v", err)
	}
	c, err := doormsg.DecodeCmd([]byte(line))
	if err != nil || c.Cmd != doormsg.CmdOpen || c.OpenID != "olga" {
		t.Fatalf("cmd %q: %+v %v", line, c, err)
	}
	ack := string(doormsg.Encode(doormsg.Ack{RequestID: c.RequestID, OK: true}))
	if out, err := mosq(t, ts, "mosquitto_pub", "-u", "A", "-P", "secret-a", "-i", "A", "-t", doormsg.Topic(testStore, "A", doormsg.KindAck), "-m", ack); err != nil {
		t.Fatalf("ack: %v %s", err, out)
	}
	if err := <-res; err != nil {
		t.Fatalf("Open: %v", err)
	}
}
