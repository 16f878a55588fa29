package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/storebox/storebox/daemon/config"
	"github.com/storebox/storebox/daemon/doors"
	"github.com/storebox/storebox/protocol/doormsg"
)

func TestDoorOpenCallsLocalAPI(t *testing.T) {
	var gotPath, gotAuth string
	var gotBody map[string]string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotPath, gotAuth = r.Method+" "+r.URL.Path, r.Header.Get("Authorization")
		_ = json.NewDecoder(r.Body).Decode(&gotBody)
		if strings.Contains(r.URL.Path, "/nope/") {
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, `{"error":"unknown door nope"}`)
			return
		}
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	defer srv.Close()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "admin.token"), []byte("tok-123\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfgFile := filepath.Join(dir, "storebox.toml")
	toml := "data_dir = \"" + dir + "\"\n[http]\nlisten = \"" + strings.TrimPrefix(srv.URL, "http://") + "\"\n"
	if err := os.WriteFile(cfgFile, []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (string, error) {
		c := doorCommand(&globals{configPath: cfgFile})
		var out bytes.Buffer
		c.SetOut(&out)
		c.SetErr(&out)
		c.SetArgs(args)
		err := c.Execute()
		return out.String(), err
	}
	out, err := run("open", "D 1", "--open-id", "alice")
	if err != nil {
		t.Fatalf("door open: %v %s", err, out)
	}
	if gotPath != "POST /api/v1/doors/D 1/open" || gotAuth != "Bearer tok-123" || gotBody["openId"] != "alice" || gotBody["reason"] != "staff" {
		t.Fatalf("request %q auth %q body %v", gotPath, gotAuth, gotBody)
	}
	if !strings.Contains(out, "door D 1 opened") {
		t.Fatalf("output %q", out)
	}
	if _, err := run("open", "nope"); err == nil || !strings.Contains(err.Error(), "unknown door nope") {
		t.Fatalf("unknown door: %v", err)
	}
}

type cliNoOrders struct{}

func (cliNoOrders) HasPendingUnpaid(string) (bool, error) { return false, nil }
func (cliNoOrders) HasExpiredUnpaid(string) (bool, error) { return false, nil }

type cliSink chan string

func (s cliSink) AppendEvent(typ string, data any) error {
	s <- typ + " " + data.(doormsg.LedgerData).OpenID
	return nil
}

func TestSimDoor(t *testing.T) {
	events := make(cliSink, 10)
	svc, err := doors.New(doors.Config{StoreID: "s1", MQTT: config.MQTT{Listen: "127.0.0.1:0"},
		Doors: []config.Door{{ID: "D1", Secret: "pw", Policy: "entry"}}}, cliNoOrders{}, events, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Bind(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = svc.Serve(ctx) }()

	simCtx, stopSim := context.WithCancel(ctx)
	c := simDoorCommand(&globals{})
	var out bytes.Buffer
	c.SetOut(&out)
	c.SetIn(strings.NewReader("scan alice\n"))
	c.SetArgs([]string{"--id", "D1", "--secret", "pw", "--broker", svc.Addr(), "--store", "s1"})
	done := make(chan error, 1)
	go func() { done <- c.ExecuteContext(simCtx) }()
	select {
	case e := <-events:
		if e != "door.opened alice" {
			t.Fatalf("event %q", e)
		}
	case err := <-done:
		t.Fatalf("sim door ended: %v %s", err, out.String())
	case <-time.After(20 * time.Second):
		t.Fatal("no door event")
	}
	stopSim()
	if err := <-done; err != nil {
		t.Fatalf("sim door: %v", err)
	}

	c = simDoorCommand(&globals{})
	c.SetArgs([]string{"--id", "D1"})
	c.SetOut(io.Discard)
	if err := c.Execute(); err == nil {
		t.Fatal("missing --secret accepted")
	}
}
