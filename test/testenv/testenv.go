// Package testenv lets tests ask for external programs (mosquitto_pub,
// nats-server, chromium, ...). Locally a missing program skips the test; in
// CI (CI=true) it fails it, so CI can never go green by skipping.
package testenv

import (
	"os"
	"os/exec"
	"testing"
)

// RequireCommand returns the path of name or skips/fails the test.
func RequireCommand(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is required in CI but not installed (.ci/run installs it)", name)
	}
	t.Skipf("%s not installed; skipping (CI installs it)", name)
	return ""
}

// Short reports whether heavy tests should be sized down.
func Short() bool { return testing.Short() }
