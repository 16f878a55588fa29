// Package fleet tests the fleet of SPEC §7 end to end on loopback: real
// storebox daemons and simulated stores against the real reference cloud,
// its fleet page in a real headless Chromium.
package fleet

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/storebox/storebox/test/harness"
	"github.com/storebox/storebox/test/testenv"
)

// browser is a headless Chromium tab that records the page's console errors
// and uncaught exceptions.
type browser struct {
	ctx  context.Context
	mu   sync.Mutex
	errs []string
}

func newBrowser(t testing.TB, timeout time.Duration) *browser {
	t.Helper()
	exe := testenv.RequireCommand(t, "chromium")
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	tctx, cancelTimeout := context.WithTimeout(context.Background(), timeout)
	actx, cancelAlloc := chromedp.NewExecAllocator(tctx, opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelCtx(); cancelAlloc(); cancelTimeout() })
	b := &browser{ctx: ctx}
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				b.mu.Lock()
				b.errs = append(b.errs, fmt.Sprintf("%s (%s:%d)", m, m.URL, m.Line))
				b.mu.Unlock()
			}
		}
	}()
	return b
}

func (b *browser) errors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.errs...)
}

func (b *browser) do(t testing.TB, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		t.Fatalf("%s: %v (page errors: %v)", what, err, b.errors())
	}
}

func eval[T any](t testing.TB, b *browser, expr string) T {
	t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v (page errors: %v)", expr, err, b.errors())
	}
	return v
}

// waitJS polls a JS expression until it is true or within passes; it
// returns how long that took.
func (b *browser) waitJS(t testing.TB, what, expr string, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	var err error
	for {
		left := within - time.Since(start)
		_, err = chromedp.Run(b.ctx, chromedp.Poll[bool](expr, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(left)))
		// A poll that began while the page was still being replaced by a
		// navigation loses its execution context; ask the new one.
		if err == nil || !strings.Contains(err.Error(), "Cannot find context") || time.Since(start) >= within {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("wait %s for %s: %v (page errors: %v)", within, what, err, b.errors())
	}
	return time.Since(start)
}

func (b *browser) screenshot(t testing.TB, name string) {
	t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Logf("screenshot: %v", err)
		return
	}
	dir := os.Getenv("STOREBOX_ARTIFACTS")
	if dir == "" {
		dir = os.TempDir()
	}
	os.MkdirAll(dir, 0o755)
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, png, 0o644); err == nil {
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
