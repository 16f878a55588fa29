package natsink_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/storebox/storebox/protocol/ledger"
	"github.com/storebox/storebox/sync/natsink"
	"github.com/storebox/storebox/sync/uploader"
	"github.com/storebox/storebox/sync/uploader/uploadertest"
	"github.com/storebox/storebox/sync/upstream"
	"github.com/storebox/storebox/test/testenv"
)

func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startNATS runs a real nats-server with JetStream on port; returns a stop func.
func startNATS(t *testing.T, bin string, port int, dir string) func() {
	t.Helper()
	conf := filepath.Join(dir, "nats.conf")
	os.WriteFile(conf, []byte(fmt.Sprintf("listen: 127.0.0.1:%d\nmax_payload: 65536\njetstream { store_dir: %q }\n", port, filepath.Join(dir, "js"))), 0o644)
	cmd := exec.Command(bin, "-c", conf)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 200*time.Millisecond)
		if err == nil {
			c.Close()
			break
		}
		select {
		case <-done:
			t.Fatalf("nats-server exited: %s", out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("nats-server did not start: %s", out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop := func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
		}
		<-done
	}
	t.Cleanup(stop)
	return stop
}

func fill(q *uploadertest.MemQueue, n int) {
	types := []string{ledger.OrderCreated, ledger.OrderPaid, ledger.DoorOpened}
	for i := range n {
		q.Append(types[i%3], map[string]int{"i": i})
	}
}

func serve(t *testing.T, u *uploader.Uploader) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- u.Serve(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

func waitDrained(t *testing.T, u *uploader.Uploader) {
	testenv.EventuallyWithin(t, 40*time.Second, "the queue to drain", func() bool { return u.Status().Depth == 0 })
}

// readStream returns the Storebox-Seq of every message in the stream, in stream order.
func readStream(t *testing.T, url string) []uint64 {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, "STOREBOX")
	if err != nil {
		t.Fatal(err)
	}
	info, _ := st.Info(ctx)
	var seqs []uint64
	for i := uint64(1); i <= info.State.LastSeq; i++ {
		m, err := st.GetMsg(ctx, i)
		if err != nil {
			t.Fatal(err)
		}
		n, _ := strconv.ParseUint(m.Header.Get("Storebox-Seq"), 10, 64)
		var e ledger.Event
		if err := json.Unmarshal(m.Data, &e); err != nil || e.Seq != n || m.Header.Get("Nats-Msg-Id") != e.ID {
			t.Fatalf("message %d: %v %+v headers %v", i, err, e, m.Header)
		}
		if !strings.HasSuffix(m.Subject, "."+e.Type) {
			t.Fatalf("subject %s for type %s", m.Subject, e.Type)
		}
		seqs = append(seqs, n)
	}
	return seqs
}

func TestJetStreamSink(t *testing.T) {
	bin := testenv.RequireCommand(t, "nats-server")
	port := freePort(t)
	url := fmt.Sprintf("nats://127.0.0.1:%d", port)
	dir := t.TempDir()

	// The server is down when the daemon starts; the sink connects later.
	sink, err := natsink.Dial(natsink.Config{URL: url, StoreID: "s1", CreateStream: true, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	q := uploadertest.NewMemQueue()
	fill(q, 1500)
	q.Append(ledger.StockReceived, map[string]string{"note": strings.Repeat("x", 70000)}) // over max_payload
	fill(q, 10)
	u := uploader.New(q, sink, uploader.Config{StoreID: "s1", BatchEvents: 200, MinBackoff: 50 * time.Millisecond, MaxBackoff: 300 * time.Millisecond, IdlePing: -1})
	if _, err := sink.Send(context.Background(), ledger.Batch{BatchID: "x", Events: []ledger.Event{{ID: "a", Seq: 1, Type: "t"}}}); !upstream.IsRetryable(err) {
		t.Fatalf("send with the server down: %v, want retryable", err)
	}
	serve(t, u)
	// It tries, fails and keeps everything queued.
	testenv.Eventually(t, "a failed send recorded", func() bool { return u.Status().LastError != "" })
	if s := u.Status(); s.Online || s.Depth == 0 {
		t.Fatalf("with the server down: %+v", s)
	}
	startNATS(t, bin, port, dir)
	waitDrained(t, u)

	seqs := readStream(t, url)
	if len(seqs) != 1510 {
		t.Fatalf("stream holds %d messages, want 1510", len(seqs))
	}
	for i := 1; i < len(seqs); i++ {
		if seqs[i] <= seqs[i-1] {
			t.Fatalf("out of order at %d: %d after %d", i, seqs[i], seqs[i-1])
		}
	}
	dead, reasons := q.Dead()
	if len(dead) != 1 || dead[0].Seq != 1501 || !strings.Contains(reasons[0], "413") {
		t.Fatalf("dead letters %v %v", dead, reasons)
	}

	// A resent batch (lost ack) is dropped by JetStream's duplicate window.
	again := uploadertest.NewMemQueue()
	fill(again, 300) // same ids ev-1..ev-300 as the first run
	evs, _ := again.Pending(0, 300, 1<<20)
	acked, err := sink.Send(context.Background(), ledger.Batch{BatchID: "s1-1-300", Events: evs})
	if err != nil || acked != 300 {
		t.Fatalf("resend: %d %v", acked, err)
	}
	if n := len(readStream(t, url)); n != 1510 {
		t.Fatalf("after resend the stream holds %d", n)
	}

	// A replacement box asks where the store's ledger stands: the last
	// message's seq (1511; 1501 was dead-lettered), not the stream's count.
	if last, err := sink.LastSeq(context.Background()); err != nil || last != 1511 {
		t.Fatalf("last seq %d, %v; want 1511", last, err)
	}
	other, err := natsink.Dial(natsink.Config{URL: url, StoreID: "s2", CreateStream: true, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	testenv.Eventually(t, "s2 connected", func() bool { _, err := other.LastSeq(context.Background()); return err == nil })
	if last, err := other.LastSeq(context.Background()); err != nil || last != 0 {
		t.Fatalf("another store's last seq %d, %v; want 0", last, err)
	}
}
