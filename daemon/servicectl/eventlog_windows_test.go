package servicectl

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/windows/svc/eventlog"
)

// events records what would go to the Event Log, next to the real one.
type events struct {
	mu   sync.Mutex
	real *eventlog.Log
	got  []string
}

func (e *events) add(kind, msg string) error {
	e.mu.Lock()
	e.got = append(e.got, kind+": "+msg)
	e.mu.Unlock()
	if e.real == nil {
		return nil
	}
	if kind == "error" {
		return e.real.Error(eventError, msg)
	}
	return e.real.Warning(eventWarning, msg)
}
func (e *events) Error(_ uint32, msg string) error   { return e.add("error", msg) }
func (e *events) Warning(_ uint32, msg string) error { return e.add("warning", msg) }
func (e *events) Close() error                       { return nil }

// realEventLog opens the Application log with a test source; ReportEvent
// succeeds on Windows and in Wine (whose event log keeps nothing, so what
// was written is checked on the recorder).
func realEventLog(t *testing.T) *events {
	l, err := eventlog.Open("storebox-test")
	if err != nil {
		t.Fatalf("open the event log: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return &events{real: l}
}

// TestFatalErrorReachesLogFileAndEventLog: a service that fails (a config
// error, a daemon that stops on its own) leaves the error in
// storebox.log and in the Event Log; before, it went to stderr, which a
// service does not have, and the log held only the start line.
func TestFatalErrorReachesLogFileAndEventLog(t *testing.T) {
	dir := t.TempDir()
	ev := realEventLog(t)
	cause := errors.New("storebox.toml:3: devices.listen: bad port")
	if err := reportFatal(cause, dir, ev); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "storebox.log"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"msg":"storebox stopped"`) || !strings.Contains(string(b), "devices.listen: bad port") {
		t.Fatalf("log file: %s", b)
	}
	if len(ev.got) != 1 || !strings.HasPrefix(ev.got[0], "error: storebox stopped: ") || !strings.Contains(ev.got[0], "bad port") {
		t.Fatalf("event log: %q", ev.got)
	}
}

// TestServiceWarningsReachEventLog: the service's logger copies warnings
// and errors (with their attributes) to the Event Log, not info.
func TestServiceWarningsReachEventLog(t *testing.T) {
	ev := realEventLog(t)
	var file strings.Builder
	log := slog.New(&eventTee{next: slog.NewJSONHandler(&file, nil), ev: ev}).With("part", "discovery")
	log.Info("listening")
	log.Warn("mDNS not advertised", "reason", "no interface")
	log.Error("bind failed", "err", "address already in use")
	want := []string{"warning: mDNS not advertised part=discovery reason=no interface", "error: bind failed part=discovery err=address already in use"}
	if strings.Join(ev.got, "|") != strings.Join(want, "|") {
		t.Fatalf("event log %q, want %q", ev.got, want)
	}
	if strings.Count(file.String(), "\n") != 3 {
		t.Fatalf("file log: %s", file.String())
	}
}
