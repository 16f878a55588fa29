package fleet

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/storebox/storebox/daemon/config"
	"github.com/storebox/storebox/protocol/fleetmsg"
	"github.com/storebox/storebox/protocol/ledger"
)

const localFile = "store_id = \"s1\"\n[devices]\nadmission = \"pairing\"\n[[doors]]\nid = \"back\"\nsecret = \"b\"\npolicy = \"exit\"\n"

// applier records what the reload path was given; failWith makes it fail.
type applier struct {
	mu       sync.Mutex
	applied  []*config.Config
	failWith error
}

func (a *applier) apply(_ context.Context, c *config.Config) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.failWith != nil {
		return a.failWith
	}
	a.applied = append(a.applied, c)
	return nil
}

func (a *applier) last() *config.Config {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.applied) == 0 {
		return nil
	}
	return a.applied[len(a.applied)-1]
}

func (a *applier) count() int { a.mu.Lock(); defer a.mu.Unlock(); return len(a.applied) }

// answerTimeout bounds the link's exchanges with a cloud that answers: long
// enough for a loaded machine running -race, since what these tests check
// is what the reply does, not how fast it comes. The hanging-cloud test
// sets its own short one (hangTimeout), which is what it checks.
const (
	answerTimeout = 5 * time.Second
	hangTimeout   = 300 * time.Millisecond
)

func newRemote(t *testing.T, cloud *testCloud, dir string, enabled bool, ap *applier, log *logRecorder) *Remote {
	t.Helper()
	return newRemoteTimeout(t, cloud, dir, enabled, ap, log, answerTimeout)
}

func newRemoteTimeout(t *testing.T, cloud *testCloud, dir string, enabled bool, ap *applier, log *logRecorder, timeout time.Duration) *Remote {
	t.Helper()
	file, err := config.Parse("local.toml", []byte(localFile))
	if err != nil {
		t.Fatal(err)
	}
	return NewRemote(RemoteConfig{Link: cloud.link(timeout), Interval: time.Hour, DataDir: dir, Enabled: enabled,
		File: file, Apply: ap.apply, Log: slog.New(log)})
}

const goodDoc = `{"version":4,"config":{"doors":[{"id":"front","secret":"f","policy":"entry"}],"devices":{"admission":"open","approve":["T-02"]},"orders":{"payment_ttl":"20m"}}}`

func TestRemoteAppliesStoresAndSurvivesARestart(t *testing.T) {
	cloud, dir, ap := newTestCloud(t), t.TempDir(), &applier{}
	cloud.serveDoc(goodDoc)
	r := newRemote(t, cloud, dir, true, ap, &logRecorder{})
	r.Poll(context.Background())
	c := ap.last()
	if c == nil || len(c.Doors) != 1 || c.Doors[0].ID != "front" || c.Devices.Admission != "open" || c.Devices.Approve[0] != "T-02" ||
		c.Orders.PaymentTTL.Duration != 20*time.Minute || c.StoreID != "s1" {
		t.Fatalf("applied %+v", c)
	}
	st := r.State()
	if st.Version != 4 || st.Source != fleetmsg.SourceRemote || st.AppliedAt.IsZero() || st.Refusal != nil {
		t.Fatalf("state %+v", st)
	}
	fi, err := os.Stat(filepath.Join(dir, StateFile))
	// Windows has no mode bits; the data directory's ACL guards it there.
	if err != nil || runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Fatalf("stored document: %v %v", fi, err)
	}
	// The same version again (304 or not) applies nothing.
	r.Poll(context.Background())
	if err := r.Offer(context.Background(), []byte(goodDoc)); err != nil || ap.count() != 1 {
		t.Fatalf("re-offer: %v, %d applies", err, ap.count())
	}

	// Restart with the cloud down: the stored document runs.
	cloud.hs.Close()
	r2 := newRemote(t, cloud, dir, true, &applier{}, &logRecorder{})
	eff := r2.Effective()
	if len(eff.Doors) != 1 || eff.Doors[0].ID != "front" || r2.State().Version != 4 || r2.State().Source != fleetmsg.SourceRemote {
		t.Fatalf("after restart: doors %+v state %+v", eff.Doors, r2.State())
	}
	r2.Poll(context.Background()) // unreachable: nothing changes, no refusal
	if st := r2.State(); st.Version != 4 || st.Refusal != nil {
		t.Fatalf("after an unreachable poll: %+v", st)
	}

	// remote_config = false: the stored document is ignored.
	r3 := newRemote(t, cloud, dir, false, &applier{}, &logRecorder{})
	if eff := r3.Effective(); eff.Doors[0].ID != "back" || r3.State().Source != fleetmsg.SourceFile {
		t.Fatalf("disabled: doors %+v state %+v", eff.Doors, r3.State())
	}
}

func TestRemoteRefusesAndChangesNothing(t *testing.T) {
	big := `{"version":9,"config":{"doors":[{"id":"x","secret":"` + strings.Repeat("s", 10<<20) + `","policy":"entry"}]}}`
	cases := []struct {
		name, version, want string
		serve               func(w http.ResponseWriter, r *http.Request)
	}{
		{"restart-only key", "5", "devices.listen: cannot be set remotely", nil},
		{"bad value", "5", `doors[1].policy: "sideways" is not one of`, nil},
		{"garbage JSON", "", "document:", nil},
		{"backwards version", "3", "version 3 is older than the applied version 4", nil},
		{"bad signature", "5", "forged signature", func(w http.ResponseWriter, r *http.Request) {
			body := `{"version":5,"config":{"doors":[]}}`
			w.Header().Set(ledger.HeaderSignature, ledger.Sign("wrong", time.Now(), []byte(body)))
			io.WriteString(w, body)
		}},
		{"stale signature", "5", "stale signature", func(w http.ResponseWriter, r *http.Request) {
			body := `{"version":5,"config":{"doors":[]}}`
			w.Header().Set(ledger.HeaderSignature, ledger.Sign(secret, time.Now().Add(-10*time.Minute), []byte(body)))
			io.WriteString(w, body)
		}},
		{"10 MB document", "", "over the 1048576-byte limit", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set(ledger.HeaderSignature, ledger.Sign(secret, time.Now(), []byte(big)))
			io.Copy(w, bytes.NewReader([]byte(big)))
		}},
	}
	docs := map[string]string{
		"restart-only key":  `{"version":5,"config":{"doors":[],"devices":{"listen":":9999"}}}`,
		"bad value":         `{"version":5,"config":{"doors":[{"id":"new","secret":"n","policy":"entry"},{"id":"x","secret":"y","policy":"sideways"}]}}`,
		"garbage JSON":      `{"version":5,"config":{"doors":[`,
		"backwards version": `{"version":3,"config":{"doors":[]}}`,
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cloud, ap, log := newTestCloud(t), &applier{}, &logRecorder{}
			cloud.serveDoc(goodDoc)
			r := newRemote(t, cloud, t.TempDir(), true, ap, log)
			kicked := 0
			r.cfg.Changed = func() { kicked++ }
			r.Poll(context.Background())
			if r.State().Version != 4 || kicked != 1 {
				t.Fatalf("setup: %+v kicked %d", r.State(), kicked)
			}
			if tc.serve != nil {
				cloud.serve(tc.serve)
			} else {
				cloud.serveDoc(docs[tc.name])
			}
			for range 3 { // the cloud keeps serving it: one refusal, one log line
				r.Poll(context.Background())
			}
			st := r.State()
			if st.Version != 4 || st.Source != fleetmsg.SourceRemote || ap.count() != 1 {
				t.Fatalf("running configuration changed: %+v, %d applies", st, ap.count())
			}
			if st.Refusal == nil || st.Refusal.Version != tc.version || !strings.Contains(st.Refusal.Reason, tc.want) {
				t.Fatalf("refusal %+v, want version %q and %q", st.Refusal, tc.version, tc.want)
			}
			if n := log.count(slog.LevelWarn, "remote configuration refused"); n != 1 || kicked != 2 {
				t.Fatalf("%d refusal warnings, %d health kicks; want 1 and 2", n, kicked)
			}
			// A good later document clears the refusal.
			cloud.serveDoc(strings.Replace(goodDoc, `"version":4`, `"version":6`, 1))
			r.Poll(context.Background())
			if st := r.State(); st.Version != 6 || st.Refusal != nil {
				t.Fatalf("after a good document: %+v", st)
			}
		})
	}
}

func TestRemoteApplyFailureIsARefusal(t *testing.T) {
	cloud, ap := newTestCloud(t), &applier{failWith: errors.New("door front: bad bcrypt hash")}
	cloud.serveDoc(goodDoc)
	dir := t.TempDir()
	r := newRemote(t, cloud, dir, true, ap, &logRecorder{})
	r.Poll(context.Background())
	st := r.State()
	if st.Source != fleetmsg.SourceFile || st.Refusal == nil || !strings.Contains(st.Refusal.Reason, "bad bcrypt hash") {
		t.Fatalf("state %+v", st)
	}
	if _, err := os.Stat(filepath.Join(dir, StateFile)); !os.IsNotExist(err) {
		t.Fatalf("a refused document was stored: %v", err)
	}
}

func TestRemoteHangingCloudIsALogLineNotARefusal(t *testing.T) {
	cloud, log := newTestCloud(t), &logRecorder{}
	release := make(chan struct{})
	defer close(release)
	cloud.serve(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	r := newRemoteTimeout(t, cloud, t.TempDir(), true, &applier{}, log, hangTimeout)
	start := time.Now()
	r.Poll(context.Background())
	r.Poll(context.Background())
	if time.Since(start) > 3*time.Second {
		t.Fatalf("two polls took %s with a %s timeout", time.Since(start), hangTimeout)
	}
	if st := r.State(); st.Refusal != nil {
		t.Fatalf("refusal for an unreachable cloud: %+v", st.Refusal)
	}
	if n := log.count(slog.LevelWarn, "desired configuration not fetched"); n != 1 {
		t.Fatalf("%d warnings for 2 hanging polls, want 1", n)
	}
}

func TestRemoteReloadMergesTheNewFileWithTheDocument(t *testing.T) {
	cloud, ap := newTestCloud(t), &applier{}
	cloud.serveDoc(`{"version":2,"config":{"devices":{"admission":"open"}}}`)
	r := newRemote(t, cloud, t.TempDir(), true, ap, &logRecorder{})
	r.Poll(context.Background())
	file, err := config.Parse("local.toml", []byte("store_id = \"s1\"\n[orders]\npayment_ttl = \"5m\"\n[devices]\nadmission = \"pairing\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Reload(context.Background(), file); err != nil {
		t.Fatal(err)
	}
	c := ap.last()
	if c.Devices.Admission != "open" || c.Orders.PaymentTTL.Duration != 5*time.Minute || len(c.Doors) != 0 {
		t.Fatalf("reloaded %+v", c)
	}
	// A later document is laid over the reloaded file, not the first one.
	cloud.serveDoc(`{"version":3,"config":{"devices":{"admission":"pairing"}}}`)
	r.Poll(context.Background())
	if c := ap.last(); c.Orders.PaymentTTL.Duration != 5*time.Minute || c.Devices.Admission != "pairing" {
		t.Fatalf("after v3: %+v", c)
	}
}
