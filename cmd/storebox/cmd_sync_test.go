package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/storebox/storebox/daemon"
	"github.com/storebox/storebox/daemon/store"
	"github.com/storebox/storebox/protocol/ledger"
	"github.com/storebox/storebox/sync/cloudref"
	"github.com/storebox/storebox/sync/uploader"
	"github.com/storebox/storebox/sync/upstream"
)

func runSync(t *testing.T, cfgFile string, args ...string) (string, error) {
	t.Helper()
	// A root of its own, so the test does not depend on registration.
	g := &globals{}
	cmd := &cobra.Command{Use: "storebox", SilenceUsage: true, SilenceErrors: true}
	cmd.PersistentFlags().StringVar(&g.configPath, "config", "", "")
	cmd.PersistentFlags().StringVar(&g.dataDir, "data-dir", "", "")
	cmd.AddCommand(syncCommand(g))
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(append(append([]string{"sync"}, args...), "--config", cfgFile))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	err := cmd.ExecuteContext(ctx)
	return out.String(), err
}

func syncFixture(t *testing.T, cloudURL, httpListen string, events int) (cfgFile, dir string) {
	t.Helper()
	dir = t.TempDir()
	st, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range events {
		if err := st.AppendEvent(ledger.DoorOpened, map[string]int{"i": i}); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	cfgFile = filepath.Join(dir, "storebox.toml")
	toml := "store_id = \"s1\"\ndata_dir = \"" + dir + "\"\n[http]\nlisten = \"" + httpListen + "\"\n" +
		"[upstream]\nurl = \"" + cloudURL + "\"\nsecret = \"k\"\nbatch_events = 100\ntimeout = \"2s\"\n"
	if err := os.WriteFile(cfgFile, []byte(toml), 0o644); err != nil {
		t.Fatal(err)
	}
	return cfgFile, dir
}

func refCloud(t *testing.T) (*cloudref.Server, string) {
	srv, err := cloudref.New(cloudref.Options{Secret: "k"})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() { srv.Close(); hs.Close() })
	return srv, hs.URL
}

// With the daemon stopped, sync now drains the data directory itself.
func TestSyncNowDirect(t *testing.T) {
	srv, url := refCloud(t)
	cfgFile, _ := syncFixture(t, url, "127.0.0.1:1", 250)
	out, err := runSync(t, cfgFile, "now")
	if err != nil {
		t.Fatalf("sync now: %v\n%s", err, out)
	}
	if !strings.Contains(out, "queue empty: 250 events sent") {
		t.Fatalf("output:\n%s", out)
	}
	if st := srv.Stats(); st.Events != 250 || st.Stores["s1"].Gaps != 0 {
		t.Fatalf("cloud: %+v", st)
	}
	out, err = runSync(t, cfgFile, "status")
	if err != nil || !strings.Contains(out, "queue:         0 events") || !strings.Contains(out, "not running") {
		t.Fatalf("status: %v\n%s", err, out)
	}

	// Cloud gone: non-zero exit naming the reason, nothing lost.
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	cfgFile, _ = syncFixture(t, deadURL, "127.0.0.1:1", 3)
	out, err = runSync(t, cfgFile, "now")
	if err == nil || !strings.Contains(err.Error(), "3 events left") {
		t.Fatalf("sync now against a dead cloud: %v\n%s", err, out)
	}
}

// With the daemon running, sync now streams the daemon's progress.
func TestSyncNowViaDaemon(t *testing.T) {
	srv, url := refCloud(t)
	api := httptest.NewUnstartedServer(nil)
	cfgFile, dir := syncFixture(t, url, api.Listener.Addr().String(), 420)
	st, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	u := uploader.New(daemon.OutboxQueue(st), uploader.HTTPSink(upstream.New(url, "s1", "k", 2*time.Second)), uploader.Config{StoreID: "s1", BatchEvents: 100})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {})
	mux.Handle("GET /api/v1/sync", u.StatusHandler())
	mux.Handle("POST /api/v1/sync/now", u.SyncNowHandler())
	api.Config.Handler = mux
	api.Start()
	defer api.Close()

	out, err := runSync(t, cfgFile, "now")
	if err != nil || !strings.Contains(out, "queue empty: 420 events sent") {
		t.Fatalf("sync now: %v\n%s", err, out)
	}
	if st := srv.Stats(); st.Events != 420 {
		t.Fatalf("cloud: %+v", st)
	}
	out, err = runSync(t, cfgFile, "status")
	if err != nil || !strings.Contains(out, "connection:    online") || !strings.Contains(out, "queue:         0 events") {
		t.Fatalf("status: %v\n%s", err, out)
	}
}
