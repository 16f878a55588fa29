// Package fleet tests the fleet of UPSTREAM.md §7 end to end on loopback: real
// storebox daemons and simulated stores against the real reference cloud,
// its fleet page in a real headless Chromium.
package fleet

import (
	"bufio"
	"io"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/storebox/storebox/test/browsertest"
	"github.com/storebox/storebox/test/harness"
)

// browser is a headless Chromium tab (test/browsertest).
type browser struct{ *browsertest.Browser }

func newBrowser(t testing.TB, timeout time.Duration) *browser {
	return &browser{browsertest.New(t, timeout)}
}

func eval[T any](t testing.TB, b *browser, expr string) T {
	t.Helper()
	return browsertest.Eval[T](t, b.Browser, expr)
}

// screenshot keeps the page for a look after the run; a failed capture is
// only logged.
func (b *browser) screenshot(t testing.TB, name string) {
	t.Helper()
	if path, err := b.Screenshot(name); err != nil {
		t.Logf("screenshot: %v", err)
	} else {
		t.Logf("screenshot: %s", path)
	}
}

// row is the CSS selector of a store's row on the fleet page.
func row(store string) string { return `#stores tr[data-store="` + store + `"]` }

// rowState is a JS expression: the data-state of a store's row ("" if none).
func rowState(store string) string {
	return `(document.querySelector('` + row(store) + `') || {dataset: {state: ""}}).dataset.state`
}

// rowHasAlert is a JS expression: the store's row shows an alert of kind.
func rowHasAlert(store, kind string) string {
	return `!!document.querySelector('` + row(store) + ` .alert[data-kind="` + kind + `"]')`
}

const (
	cloudSecret = "fleet-secret"
	adminToken  = "fleet-admin"
)

// startCloud runs the reference cloud for stores reporting every interval.
func startCloud(t testing.TB, interval time.Duration, args ...string) *harness.Cloud {
	t.Helper()
	return harness.StartCloud(t, append([]string{"--secret", cloudSecret, "--admin-token", adminToken,
		"--health-interval", interval.String()}, args...)...)
}

// startSimFleet runs `storebox sim fleet` as its own process.
func startSimFleet(t testing.TB, cloudURL string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(harness.Binary(t), append([]string{"sim", "fleet", "--cloud", cloudURL, "--secret", cloudSecret, "--report", "0"}, args...)...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var errs strings.Builder
	cmd.Stderr = &errs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			t.Logf("sim fleet: %s", sc.Text())
		}
		io.Copy(io.Discard, out)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done // every read of the pipe before Wait
		cmd.Wait()
		if errs.Len() > 0 {
			t.Logf("sim fleet stderr: %s", errs.String())
		}
	})
	return cmd
}
