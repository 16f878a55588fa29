// Package daemontest runs the real daemon in-process for tests of the
// packages around it (doctor, the CLI), as test/harness runs the binary.
package daemontest

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/storebox/storebox/daemon"
	"github.com/storebox/storebox/daemon/config"
	"github.com/storebox/storebox/internal/backoff"
)

// Start builds the daemon from cfg and runs it until the test ends. It
// returns once every listener is up; a daemon that fails to build, exits
// before it is ready, or returns an error or does not stop when the test
// ends fails the test.
func Start(t testing.TB, cfg *config.Config, version string) *daemon.Daemon {
	t.Helper()
	d, err := daemon.New(cfg, version, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("daemon: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("daemon did not stop")
		}
	})
	poll := backoff.Policy{Min: time.Millisecond, Max: 50 * time.Millisecond}
	deadline := time.Now().Add(15 * time.Second)
	for n := 0; !d.Ready(); n++ {
		select {
		case err := <-done:
			t.Fatalf("daemon exited before it was ready: %v", err)
		case <-time.After(poll.Delay(n)):
		}
		if time.Now().After(deadline) {
			t.Fatal("daemon not ready within 15 s")
		}
	}
	return d
}
