package main_test

// Black-box tests: the real storebox-cloud binary as a subprocess, driven by
// the daemon's real upload path (sync/upstream + sync/uploader) over loopback.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/storebox/storebox/protocol/ledger"
	"github.com/storebox/storebox/sync/cloudref"
	"github.com/storebox/storebox/sync/uploader"
	"github.com/storebox/storebox/sync/uploader/uploadertest"
	"github.com/storebox/storebox/sync/upstream"
)

var cloudBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "storebox-cloud-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cloudBin = filepath.Join(dir, "storebox-cloud")
	out, err := exec.Command("go", "build", "-o", cloudBin, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build storebox-cloud: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type cloudProc struct {
	t    testing.TB
	cmd  *exec.Cmd
	URL  string
	errs *strings.Builder
}

// startCloud runs the binary with args (plus --listen 127.0.0.1:0 --secret k
// unless given) and waits for its address line.
func startCloud(t testing.TB, args ...string) *cloudProc {
	t.Helper()
	all := append([]string{"--listen", "127.0.0.1:0", "--secret", "k", "--seed", "7"}, args...)
	cmd := exec.Command(cloudBin, all...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	errs := &strings.Builder{}
	cmd.Stderr = errs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &cloudProc{t: t, cmd: cmd, errs: errs}
	t.Cleanup(p.stop)
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			line <- sc.Text()
		}
		close(line)
		io.Copy(io.Discard, stdout)
	}()
	select {
	case l, ok := <-line:
		if !ok {
			cmd.Wait()
			t.Fatalf("storebox-cloud printed no address; stderr: %s", errs.String())
		}
		p.URL = "http://" + strings.TrimSpace(l)
	case <-time.After(20 * time.Second):
		t.Fatal("storebox-cloud did not start")
	}
	return p
}

func (p *cloudProc) stop() {
	if p.cmd.ProcessState != nil {
		return
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-done
	}
}

func (p *cloudProc) stats() cloudref.Stats {
	p.t.Helper()
	resp, err := http.Get(p.URL + "/stats?format=json")
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	var st cloudref.Stats
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		p.t.Fatal(err)
	}
	return st
}

func (p *cloudProc) client(timeout time.Duration) *upstream.Client {
	return upstream.New(p.URL, "s1", "k", timeout)
}

func drain(t *testing.T, q *uploadertest.MemQueue, sink uploader.Sink, batch int) *uploader.Uploader {
	t.Helper()
	u := uploader.New(q, sink, uploader.Config{StoreID: "s1", BatchEvents: batch,
		MinBackoff: 50 * time.Millisecond, MaxBackoff: 500 * time.Millisecond, IdlePing: -1})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- u.Serve(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	deadline := time.Now().Add(40 * time.Second)
	for u.Status().Depth > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("queue did not drain: %+v", u.Status())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return u
}

func fill(q *uploadertest.MemQueue, n int, types ...string) {
	if len(types) == 0 {
		types = []string{ledger.OrderCreated, ledger.PaymentCreated, ledger.OrderPaid}
	}
	for i := range n {
		q.Append(types[i%len(types)], map[string]any{"oid": fmt.Sprintf("o%d", i), "amount_total": i})
	}
}

// inOrderAndComplete: every seq 1..n exactly once, received in seq order.
func inOrderAndComplete(t *testing.T, st cloudref.Stats, n int) {
	t.Helper()
	ss := st.Stores["s1"]
	if st.Events != uint64(n) || ss.LastSeq != uint64(n) || ss.Distinct != uint64(n) || ss.Gaps != 0 || ss.OutOfOrder != 0 {
		t.Fatalf("cloud: events %d last %d distinct %d gaps %d out-of-order %d; want 1..%d in order",
			st.Events, ss.LastSeq, ss.Distinct, ss.Gaps, ss.OutOfOrder, n)
	}
}

func TestCloudDownAtFirstThenBack(t *testing.T) {
	p := startCloud(t, "--down-for", "2s")
	q := uploadertest.NewMemQueue()
	fill(q, 2000)
	u := drain(t, q, uploader.HTTPSink(p.client(2*time.Second)), 500)
	st := p.stats()
	inOrderAndComplete(t, st, 2000)
	if st.DownRefused == 0 {
		t.Fatal("the cloud never refused a connection")
	}
	if st.Duplicates != 0 { // refusals happen before anything is stored
		t.Fatalf("%d duplicates with no lost acknowledgement", st.Duplicates)
	}
	if s := u.Status(); !s.Online || s.Sent != 2000 || s.LastError != "" {
		t.Fatalf("status = %+v (want online, 2000 sent, the outage's error cleared by the success)", s)
	}
}

func TestFailureStormAndLostAcks(t *testing.T) {
	p := startCloud(t, "--fail-rate", "0.3", "--lose-ack-rate", "0.15", "--latency", "2ms")
	q := uploadertest.NewMemQueue()
	fill(q, 3000)
	drain(t, q, uploader.HTTPSink(p.client(2*time.Second)), 250)
	st := p.stats()
	inOrderAndComplete(t, st, 3000)
	if st.InjectedFail == 0 || st.LostAcks == 0 {
		t.Fatalf("faults did not fire: %+v", st)
	}
	// Resends explain every duplicate: at most one batch per lost ack.
	if st.Duplicates > st.LostAcks*250 {
		t.Fatalf("%d duplicates, only %d lost acks", st.Duplicates, st.LostAcks)
	}
	t.Logf("fail %d, lost acks %d, duplicates %d", st.InjectedFail, st.LostAcks, st.Duplicates)
}

func TestHangingCloudTimesOut(t *testing.T) {
	p := startCloud(t, "--hang-rate", "0.3")
	q := uploadertest.NewMemQueue()
	fill(q, 400)
	drain(t, q, uploader.HTTPSink(p.client(200*time.Millisecond)), 50)
	st := p.stats()
	inOrderAndComplete(t, st, 400)
	if st.InjectedHang == 0 {
		t.Fatal("no hang injected")
	}
}

func TestThrottled(t *testing.T) {
	p := startCloud(t, "--throttle-rate", "0.4")
	q := uploadertest.NewMemQueue()
	fill(q, 300)
	start := time.Now()
	drain(t, q, uploader.HTTPSink(p.client(2*time.Second)), 100)
	st := p.stats()
	inOrderAndComplete(t, st, 300)
	if st.InjectedThrottl == 0 {
		t.Fatal("never throttled")
	}
	// Each 429 carries Retry-After: 1, which the uploader must honour.
	if el := time.Since(start); el < time.Duration(st.InjectedThrottl)*time.Second {
		t.Fatalf("%d throttles honoured in %s", st.InjectedThrottl, el)
	}
}

func TestRejectedTypeDeadLettered(t *testing.T) {
	p := startCloud(t, "--reject-type", "order.cancelled")
	q := uploadertest.NewMemQueue()
	fill(q, 600, ledger.OrderCreated, ledger.OrderPaid, ledger.OrderCancelled, ledger.DoorOpened, ledger.StockReceived,
		ledger.OrderCreated, ledger.OrderPaid, ledger.DoorDenied, ledger.StockAdjusted, ledger.PaymentCreated,
		ledger.OrderCreated, ledger.OrderPaid, ledger.DoorOpened, ledger.StockReceived, ledger.PaymentFailed,
		ledger.OrderCreated, ledger.OrderPaid, ledger.DoorOpened, ledger.StockReceived, ledger.PaymentFailed,
		ledger.OrderCreated, ledger.OrderPaid, ledger.DoorOpened, ledger.StockReceived, ledger.PaymentFailed,
		ledger.OrderCreated, ledger.OrderPaid, ledger.DoorOpened, ledger.StockReceived, ledger.PaymentFailed) // 20 cancelled
	drain(t, q, uploader.HTTPSink(p.client(2*time.Second)), 100)
	dead, _ := q.Dead()
	for _, e := range dead {
		if e.Type != ledger.OrderCancelled {
			t.Fatalf("good event %d (%s) dead-lettered", e.Seq, e.Type)
		}
	}
	st := p.stats()
	if len(dead) != 20 || st.Events != 580 || st.ByType[ledger.OrderCancelled] != 0 || st.Stores["s1"].OutOfOrder != 0 || st.Stores["s1"].Gaps != 20 {
		t.Fatalf("dead %d, cloud %+v", len(dead), st)
	}
}

func TestForgedAndStaleSignaturesRefused(t *testing.T) {
	p := startCloud(t)
	body := []byte(`{"batch_id":"b1","events":[{"id":"e1","seq":1,"type":"order.paid","at":"2026-01-01T00:00:00Z","data":{}}]}`)
	post := func(sig string) int {
		req, _ := http.NewRequest("POST", p.URL+"/v1/stores/s1/events", strings.NewReader(string(body)))
		req.Header.Set(ledger.HeaderStore, "s1")
		req.Header.Set(ledger.HeaderSignature, sig)
		req.Header.Set(ledger.HeaderIdemKey, "b1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	now := time.Now()
	for name, sig := range map[string]string{
		"wrong secret": ledger.Sign("not-k", now, body),
		"stale":        ledger.Sign("k", now.Add(-6*time.Minute), body),
		"future":       ledger.Sign("k", now.Add(6*time.Minute), body),
		"malformed":    "v1=abc",
		"missing":      "",
	} {
		if code := post(sig); code != 401 {
			t.Errorf("%s: status %d, want 401", name, code)
		}
	}
	if st := p.stats(); st.Events != 0 || st.AuthFailures != 5 {
		t.Fatalf("stats after forgeries: %+v", st)
	}
	if code := post(ledger.Sign("k", now.Add(-4*time.Minute), body)); code != 200 {
		t.Fatalf("a 4-minute-old signature: %d, want 200", code)
	}
}

func TestEventsSurviveRestartAndCatalogAndCredits(t *testing.T) {
	dir := t.TempDir()
	cat := filepath.Join(dir, "catalog.jsonl")
	os.WriteFile(cat, []byte(`{"gid":"g1","barcode":"1","gname":"苹果","price":599,"unit":"kg","stock":3}
{"gid":"g2","barcode":"2","gname":"Water","price":150,"unit":"pcs"}
`), 0o644)
	data := filepath.Join(dir, "cloud")
	p := startCloud(t, "--data", data, "--catalog", cat, "--credit", "acct-9=1000")
	q := uploadertest.NewMemQueue()
	fill(q, 700)
	c := p.client(2 * time.Second)
	drain(t, q, uploader.HTTPSink(c), 300)
	ctx := context.Background()
	tx, err := c.Authorize(ctx, "acct-9", 800, "o1", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Authorize(ctx, "acct-9", 300, "o2", time.Minute); err == nil || !strings.Contains(err.Error(), "insufficient") {
		t.Fatalf("second authorize: %v", err)
	}
	if err := c.Capture(ctx, tx, 800); err != nil {
		t.Fatal(err)
	}
	page, err := c.Catalog(ctx, "", 1)
	if err != nil || len(page.Items) != 1 || !page.More {
		t.Fatalf("catalog page 1: %+v %v", page, err)
	}
	p.stop()

	// Same data directory: the events are still there, resending them only
	// adds duplicates, and the catalog cursor still means the same place.
	p = startCloud(t, "--data", data, "--catalog", cat)
	st := p.stats()
	inOrderAndComplete(t, st, 700)
	if st.Credits["acct-9"] != 200 {
		t.Fatalf("credit after restart = %d, want 200", st.Credits["acct-9"])
	}
	c = p.client(2 * time.Second)
	ack, err := c.PostEvents(ctx, ledger.Batch{BatchID: "again", Events: []ledger.Event{{ID: "ev-5", Seq: 5, Type: "x", Data: json.RawMessage(`{}`)}}})
	if err != nil || ack.AckedThrough != 700 {
		t.Fatalf("resend after restart: ack %+v err %v (want acked through 700, the contiguous run it holds)", ack, err)
	}
	if st := p.stats(); st.Duplicates != 1 || st.Events != 700 {
		t.Fatalf("after resend: %+v", st)
	}
	page2, err := c.Catalog(ctx, page.Cursor, 10)
	if err != nil || len(page2.Items) != 1 || page2.Items[0].GID == page.Items[0].GID || page2.More {
		t.Fatalf("catalog page 2 after restart: %+v %v", page2, err)
	}
	resp, err := http.Get(p.URL + "/stats")
	if err != nil {
		t.Fatal(err)
	}
	text, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(text), "events 700") || !strings.Contains(string(text), "order.created") {
		t.Fatalf("plain stats:\n%s", text)
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--fail-rate", "2", "--secret", "k"},
		{"--listen", "127.0.0.1:0"}, // no secret
		{"--credit", "x", "--secret", "k"},
		{"--config-fault", "explode", "--secret", "k"},
		{"--health-interval", "0s", "--secret", "k"},
	} {
		out, err := exec.Command(cloudBin, args...).CombinedOutput()
		if err == nil {
			t.Errorf("%v: exit 0", args)
		}
		if len(out) == 0 {
			t.Errorf("%v: no message", args)
		}
	}
}

func TestHelpSaysHowToPointAStoreHere(t *testing.T) {
	out, err := exec.Command(cloudBin, "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("--help: %v\n%s", err, out)
	}
	for _, want := range []string{"[upstream]", "url = ", "secret = ", "--admin-token", "/v1/admin/stores/<s>/config", "--config-fault", "health_interval"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("--help does not mention %q:\n%s", want, out)
		}
	}
}

// The fleet console through the binary: the admin token from the
// environment, a desired configuration kept across a restart, a config
// fault from the command line, and refusals that name the key.
func TestFleetConsoleBinary(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("STOREBOX_CLOUD_ADMIN_TOKEN", "adm")
	admin := func(p *cloudProc, body string) (int, string) {
		req, _ := http.NewRequest("PUT", p.URL+"/v1/admin/stores/s1/config", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer adm")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	getConfig := func(p *cloudProc) (*http.Response, []byte) {
		req, _ := http.NewRequest("GET", p.URL+"/v1/stores/s1/config", nil)
		req.Header.Set(ledger.HeaderStore, "s1")
		req.Header.Set(ledger.HeaderSignature, ledger.Sign("k", time.Now(), []byte("/v1/stores/s1/config")))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}

	p := startCloud(t, "--data", dir)
	if code, body := admin(p, `{"version": 2, "config": {"devices": {"admission": "sometimes"}}}`); code != 400 || !strings.Contains(body, `"key":"devices.admission"`) {
		t.Fatalf("bad value: %d %s", code, body)
	}
	if code, body := admin(p, `{"version": 2, "config": {"devices": {"approve": ["T-1"]}}}`); code != 200 {
		t.Fatalf("good document: %d %s", code, body)
	}
	resp, body := getConfig(p)
	if resp.StatusCode != 200 || ledger.Verify("k", resp.Header.Get(ledger.HeaderSignature), body, time.Now()) != nil {
		t.Fatalf("config: %d %s (%v)", resp.StatusCode, body, resp.Header)
	}
	p.stop()

	p = startCloud(t, "--data", dir, "--config-fault", "unsigned")
	if code, body := admin(p, `{"version": 1, "config": {}}`); code != 409 {
		t.Fatalf("version 1 after 2 survived a restart: %d %s", code, body)
	}
	resp, body = getConfig(p)
	if resp.StatusCode != 200 || resp.Header.Get(ledger.HeaderSignature) != "" || !strings.Contains(string(body), `"T-1"`) {
		t.Fatalf("unsigned fault after restart: %d %s %v", resp.StatusCode, body, resp.Header)
	}
	if st := p.stats(); st.Fleet.ConfigFaulted != 1 || st.Fleets != 1 {
		t.Fatalf("fleet stats %+v", st.Fleet)
	}
}

// The admin API names a misspelt key as unknown, with the key it was meant
// to be; only keys the store's file really has but a document may not set
// "need a restart".
func TestAdminAPINamesUnknownKeys(t *testing.T) {
	p := startCloud(t, "--admin-token", "adm")
	for _, tc := range []struct{ config, key, detail string }{
		{`{"devices": {"admision": "open"}}`, "devices.admision", "unknown key (did you mean devices.admission?)"},
		{`{"devices": {"colour": "red"}}`, "devices.colour", "devices.colour: unknown key"},
		{`{"doors": [{"id": "a", "secret": "s", "polcy": "entry"}]}`, "doors[0].polcy", "unknown key (did you mean doors[0].policy?)"},
		{`{"devices": {"listen": ":9"}}`, "devices.listen", "needs a restart"},
	} {
		req, _ := http.NewRequest("PUT", p.URL+"/v1/admin/stores/s1/config", strings.NewReader(`{"version": 1, "config": `+tc.config+`}`))
		req.Header.Set("Authorization", "Bearer adm")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var got struct{ Key, Detail string }
		json.NewDecoder(resp.Body).Decode(&got)
		resp.Body.Close()
		if resp.StatusCode != 400 || got.Key != tc.key || !strings.Contains(got.Detail, tc.detail) {
			t.Errorf("%s: %d %+v, want key %s and %q", tc.config, resp.StatusCode, got, tc.key, tc.detail)
		}
		if tc.key != "devices.listen" && strings.Contains(got.Detail, "remotely") {
			t.Errorf("%s: a typo is called a key that cannot be set remotely: %s", tc.config, got.Detail)
		}
	}
}
