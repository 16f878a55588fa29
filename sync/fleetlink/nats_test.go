package fleetlink_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/storebox/storebox/protocol/ledger"
	"github.com/storebox/storebox/sync/fleetlink"
	"github.com/storebox/storebox/test/testenv"
)

// natsServer runs a real nats-server with JetStream and returns its URL.
func natsServer(t *testing.T) string {
	t.Helper()
	bin := testenv.RequireCommand(t, "nats-server")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command(bin, "-js", "-a", "127.0.0.1", "-p", fmt.Sprint(port), "-sd", filepath.Join(t.TempDir(), "js"))
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	url := fmt.Sprintf("nats://127.0.0.1:%d", port)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if nc, err := nats.Connect(url); err == nil {
			nc.Close()
			return url
		}
		if time.Now().After(deadline) {
			t.Fatalf("nats-server did not start: %s", out.String())
		}
	}
}

// putConfig is the cloud side: a document in storebox_config under s1,
// signed at signedAt with key (no signature when key is empty).
func putConfig(t *testing.T, js jetstream.JetStream, body, key string, signedAt time.Time) {
	t.Helper()
	ctx := context.Background()
	if _, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: fleetlink.BucketConfig}); err != nil {
		t.Fatal(err)
	}
	m := nats.NewMsg("$KV." + fleetlink.BucketConfig + ".s1")
	m.Data = []byte(body)
	if key != "" {
		m.Header.Set(ledger.HeaderSignature, ledger.Sign(key, signedAt, m.Data))
	}
	if _, err := js.PublishMsg(ctx, m); err != nil {
		t.Fatal(err)
	}
}

func TestNATSHealthAndConfig(t *testing.T) {
	url := natsServer(t)
	l, err := fleetlink.DialNATS(fleetlink.NATSConfig{URL: url, StoreID: "s1", Secret: secret, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go l.Watch(ctx)

	// Health lands in storebox_health under the store id, signed in a header.
	body := []byte(`{"store":"s1","ready":true}`)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if err = l.PutHealth(ctx, body); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	st, err := js.Stream(ctx, "KV_"+fleetlink.BucketHealth)
	if err != nil {
		t.Fatal(err)
	}
	m, err := st.GetLastMsgForSubject(ctx, "$KV."+fleetlink.BucketHealth+".s1")
	if err != nil || string(m.Data) != string(body) {
		t.Fatalf("health entry %v, err %v", m, err)
	}
	if err := ledger.Verify(secret, m.Header.Get(ledger.HeaderSignature), m.Data, time.Now()); err != nil {
		t.Fatalf("health signature: %v", err)
	}

	// No document yet: nothing new.
	if r, err := l.FetchConfig(ctx, 0); err != nil || !r.NotModified {
		t.Fatalf("empty bucket: %+v %v", r, err)
	}

	// A signed document is returned once, and its put is signalled.
	putConfig(t, js, doc, secret, time.Now())
	select {
	case <-l.Changed():
	case <-time.After(10 * time.Second):
		t.Fatal("the watch did not signal the put")
	}
	if r, err := l.FetchConfig(ctx, 0); err != nil || string(r.Body) != doc {
		t.Fatalf("signed document: %+v %v", r, err)
	}
	if r, err := l.FetchConfig(ctx, 3); err != nil || !r.NotModified {
		t.Fatalf("same message again: %+v %v", r, err)
	}

	for _, tc := range []struct {
		name, key string
		at        time.Time
		want      string
	}{
		{"unsigned", "", time.Now(), "unsigned reply"},
		{"forged", "not-the-secret", time.Now(), "forged signature"},
		{"stale", secret, time.Now().Add(-10 * time.Minute), "stale signature"},
	} {
		putConfig(t, js, doc, tc.key, tc.at)
		_, err := l.FetchConfig(ctx, 0)
		var ref *fleetlink.RefusedError
		if !errors.As(err, &ref) || !strings.Contains(err.Error(), tc.want) {
			t.Fatalf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestNATSServerDownIsRetryable(t *testing.T) {
	l, err := fleetlink.DialNATS(fleetlink.NATSConfig{URL: "nats://127.0.0.1:1", StoreID: "s1", Secret: secret, Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	err = l.PutHealth(context.Background(), []byte(`{}`))
	var ref *fleetlink.RefusedError
	if err == nil || errors.As(err, &ref) || !strings.Contains(err.Error(), "cloud unreachable") {
		t.Fatalf("err = %v", err)
	}
	if _, err := fleetlink.DialNATS(fleetlink.NATSConfig{URL: "nats://127.0.0.1:1", StoreID: "store 1"}); err == nil {
		t.Fatal("a store id that cannot be a key was accepted")
	}
}

// Over NATS there is no Date: a box an hour behind learns the server's
// clock from the time the server stored its health snapshot, puts the
// snapshot again signed with the server's time (a cloud that checks the
// signature against its clock takes it), and signs the next ones right at
// once. Clock reports the offset as the HTTP client does.
func TestNATSHealthFollowsTheServersClock(t *testing.T) {
	url := natsServer(t)
	l, err := fleetlink.DialNATS(fleetlink.NATSConfig{URL: url, StoreID: "s1", Secret: secret, Timeout: 5 * time.Second,
		Now: func() time.Time { return time.Now().Add(-time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx := context.Background()
	if c := l.Clock(); c.Known {
		t.Fatalf("before any put: %+v", c)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if err = l.PutHealth(ctx, []byte(`{"store":"s1"}`)); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	if c := l.Clock(); !c.Known || !c.Corrected || c.Offset > -time.Hour+time.Second || c.Offset < -time.Hour-time.Second {
		t.Fatalf("clock %+v, want about -1h, corrected", c)
	}
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	st, err := js.Stream(ctx, "KV_"+fleetlink.BucketHealth)
	if err != nil {
		t.Fatal(err)
	}
	check := func(what string) uint64 {
		t.Helper()
		m, err := st.GetLastMsgForSubject(ctx, "$KV."+fleetlink.BucketHealth+".s1")
		if err != nil {
			t.Fatal(err)
		}
		if err := ledger.Verify(secret, m.Header.Get(ledger.HeaderSignature), m.Data, m.Time); err != nil {
			t.Fatalf("%s: signature against the server's time: %v", what, err)
		}
		return m.Sequence
	}
	first := check("first snapshot")
	if err := l.PutHealth(ctx, []byte(`{"store":"s1","n":2}`)); err != nil {
		t.Fatal(err)
	}
	if second := check("second snapshot"); second != first+1 {
		t.Fatalf("second snapshot at stream seq %d after %d: put twice though signed right", second, first)
	}
}
