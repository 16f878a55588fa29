// Package browsertest drives a real headless Chromium for the page tests
// (the status page, the fleet page): a fresh profile per browser, every
// console error and uncaught exception of the page recorded so a failure
// can show them.
package browsertest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/storebox/storebox/test/testenv"
)

// Browser is one headless Chromium tab. Ctx is its chromedp context.
type Browser struct {
	Ctx  context.Context
	mu   sync.Mutex
	errs []string
}

// New starts Chromium (skipped locally, failed in CI when it is missing)
// with the flags this closed network needs; everything ends after timeout
// or when the test ends.
func New(t testing.TB, timeout time.Duration) *Browser {
	t.Helper()
	exe := testenv.RequireCommand(t, "chromium")
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
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
	b := &Browser{Ctx: ctx}
	// Start the browser and the tab, then subscribe before any navigation.
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

// Errors are the page's console errors and exceptions so far.
func (b *Browser) Errors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.errs...)
}

// Do runs actions and fails the test, with the page's errors, if they fail.
func (b *Browser) Do(t testing.TB, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(b.Ctx, actions...); err != nil {
		t.Fatalf("%s: %v (page errors: %v)", what, err, b.Errors())
	}
}

// Eval evaluates a JS expression.
func Eval[T any](t testing.TB, b *Browser, expr string) T {
	t.Helper()
	v, err := chromedp.Run(b.Ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v (page errors: %v)", expr, err, b.Errors())
	}
	return v
}

// WaitJS polls a JS expression until it is true or within passes, and
// returns how long that took.
func (b *Browser) WaitJS(t testing.TB, what, expr string, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	var err error
	for {
		left := within - time.Since(start)
		_, err = chromedp.Run(b.Ctx, chromedp.Poll[bool](expr, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(left)))
		// A poll that began while the page was still being replaced by a
		// navigation loses its execution context; ask the new one.
		if err == nil || !strings.Contains(err.Error(), "Cannot find context") || time.Since(start) >= within {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("wait %s for %s: %v (page errors: %v)", within, what, err, b.Errors())
	}
	return time.Since(start)
}

// Screenshot saves the whole page as name in ArtifactPath's folder.
func (b *Browser) Screenshot(name string) (path string, err error) {
	png, err := chromedp.Run(b.Ctx, chromedp.FullScreenshot(100))
	if err != nil {
		return "", fmt.Errorf("screenshot: %w", err)
	}
	path = ArtifactPath(name)
	return path, os.WriteFile(path, png, 0o644)
}

// ScreenshotViewport saves what the window shows (not the whole page) as
// name in ArtifactPath's folder.
func (b *Browser) ScreenshotViewport(name string) (path string, err error) {
	png, err := chromedp.Run(b.Ctx, chromedp.CaptureScreenshot())
	if err != nil {
		return "", fmt.Errorf("screenshot: %w", err)
	}
	path = ArtifactPath(name)
	return path, os.WriteFile(path, png, 0o644)
}

// ArtifactPath is where a test keeps a file worth looking at after the run:
// $STOREBOX_ARTIFACTS, else the temporary directory.
func ArtifactPath(name string) string {
	dir := os.Getenv("STOREBOX_ARTIFACTS")
	if dir == "" {
		dir = os.TempDir()
	}
	os.MkdirAll(dir, 0o755)
	return filepath.Join(dir, name)
}
