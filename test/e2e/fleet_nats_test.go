package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/storebox/storebox/protocol/fleetmsg"
	"github.com/storebox/storebox/protocol/ledger"
	"github.com/storebox/storebox/sync/fleetlink"
	"github.com/storebox/storebox/test/harness"
	"github.com/storebox/storebox/test/testenv"
)

// With upstream.kind = "nats" health lands in the storebox_health bucket,
// signed, and a document put in storebox_config is applied as soon as it
// is put; an unsigned one is refused.
func TestFleetOverNATS(t *testing.T) {
	url := startNATS(t)
	// A long poll interval: the document must arrive through the watch.
	d := harness.New(t, fmt.Sprintf("[upstream]\nkind = \"nats\"\nnats_url = %q\nsecret = %q\n[fleet]\nhealth_interval = \"2s\"\nconfig_interval = \"1h\"\n", url, fleetSecret))
	pairing(t, d)
	if out, err := d.Run("catalog", "import", sample()); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	d.Start()

	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	var health fleetmsg.Health
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if st, err := js.Stream(ctx, "KV_"+fleetlink.BucketHealth); err == nil {
			if m, err := st.GetLastMsgForSubject(ctx, "$KV."+fleetlink.BucketHealth+".test"); err == nil {
				if err := ledger.Verify(fleetSecret, m.Header.Get(ledger.HeaderSignature), m.Data, time.Now()); err != nil {
					t.Fatalf("health signature: %v", err)
				}
				if err := json.Unmarshal(m.Data, &health); err != nil {
					t.Fatal(err)
				}
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no health in %s\n%s", fleetlink.BucketHealth, d.Log())
		}
	}
	if health.Store != "test" || health.Config.Source != fleetmsg.SourceFile {
		t.Fatalf("health %+v", health)
	}

	put := func(body string, sign bool) {
		t.Helper()
		m := nats.NewMsg("$KV." + fleetlink.BucketConfig + ".test")
		m.Data = []byte(body)
		if sign {
			m.Header.Set(ledger.HeaderSignature, ledger.Sign(fleetSecret, time.Now(), m.Data))
		}
		if _, err := js.PublishMsg(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	// The daemon created the bucket when it started watching.
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if _, err := js.KeyValue(ctx, fleetlink.BucketConfig); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("bucket %s never created\n%s", fleetlink.BucketConfig, d.Log())
		}
	}
	put(`{"version": 1, "config": {"doors": [{"id": "front", "secret": "s-front", "policy": "entry"}]}}`, true)
	waitConfig(t, d, "at version 1 over NATS", func(c configStatus) bool { return c.Version == 1 && c.Source == "remote" })
	if err := doorConnects(d, "front", "s-front"); err != nil {
		t.Fatalf("door from a NATS document: %v", err)
	}
	put(`{"version": 2, "config": {"doors": []}}`, false)
	waitConfig(t, d, "refused (unsigned over NATS)", refusedWith("2", "unsigned reply"))
	if err := doorConnects(d, "front", "s-front"); err != nil {
		t.Fatalf("the door went with an unsigned document: %v", err)
	}
	// The refusal reaches the health bucket.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		st, _ := js.Stream(ctx, "KV_"+fleetlink.BucketHealth)
		m, err := st.GetLastMsgForSubject(ctx, "$KV."+fleetlink.BucketHealth+".test")
		if err == nil && json.Unmarshal(m.Data, &health) == nil && health.Config.Error != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the refusal never reached %s: %+v", fleetlink.BucketHealth, health.Config)
		}
	}
	sells(t, d)
}

// startNATS runs a real nats-server with JetStream on a free loopback port
// until the test ends and returns its URL once it takes connections.
func startNATS(t *testing.T) string {
	t.Helper()
	bin := testenv.RequireCommand(t, "nats-server")
	addr := harness.FreeAddr(t)
	_, port, _ := splitHostPort(addr)
	srv := exec.Command(bin, "-js", "-a", "127.0.0.1", "-p", port, "-sd", filepath.Join(t.TempDir(), "js"))
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })
	url := "nats://" + addr
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		nc, err := nats.Connect(url)
		if err == nil {
			nc.Close()
			return url
		}
		if time.Now().After(deadline) {
			t.Fatalf("nats-server did not start: %v", err)
		}
	}
}
