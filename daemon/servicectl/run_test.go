package servicectl

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestProgramStopCancelsRun(t *testing.T) {
	started := make(chan struct{})
	p := newProgram(context.Background(), func(ctx context.Context) error {
		close(started)
		<-ctx.Done()
		return ctx.Err()
	})
	p.exit = func(code int) { t.Errorf("exit(%d) on a requested stop", code) }
	if err := p.Start(nil); err != nil {
		t.Fatal(err)
	}
	<-started
	if err := p.Stop(nil); err != nil {
		t.Fatalf("Stop: %v (context.Canceled must count as a clean stop)", err)
	}
}

func TestProgramStopReturnsRunError(t *testing.T) {
	p := newProgram(context.Background(), func(ctx context.Context) error {
		<-ctx.Done()
		return errors.New("flush outbox: disk full")
	})
	p.exit = func(int) {}
	p.Start(nil)
	if err := p.Stop(nil); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("Stop: %v", err)
	}
}

// A daemon that dies on its own must take the process down so the Windows
// service manager's restart-on-failure applies.
func TestProgramExitsWhenRunFailsAlone(t *testing.T) {
	exited := make(chan int, 1)
	p := newProgram(context.Background(), func(context.Context) error { return errors.New("bind :8686: address in use") })
	p.exit = func(code int) { exited <- code }
	p.Start(nil)
	select {
	case code := <-exited:
		if code == 0 {
			t.Errorf("exit code 0 after a failure")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("process did not exit after the daemon failed")
	}
}

func TestProgramStopTimeout(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	p := newProgram(context.Background(), func(context.Context) error { <-release; return nil })
	p.exit = func(int) {}
	p.stopTimeout = 50 * time.Millisecond
	p.Start(nil)
	if err := p.Stop(nil); err == nil || !strings.Contains(err.Error(), "did not stop") {
		t.Fatalf("Stop of a stuck daemon: %v", err)
	}
}

func TestRunAsServiceInteractiveCallsRun(t *testing.T) {
	want := errors.New("boom")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := RunAsService(ctx, func(c context.Context) error {
		if c != ctx {
			t.Errorf("runFn got a different context")
		}
		return want
	})
	if got != want {
		t.Fatalf("RunAsService = %v, want %v", got, want)
	}
}

func TestServiceConfig(t *testing.T) {
	c := serviceConfig(Options{Executable: `C:\storebox\storebox.exe`, ConfigPath: `C:\storebox\storebox.toml`, DataDir: `D:\data`})
	want := []string{"run", "--config", `C:\storebox\storebox.toml`, "--data-dir", `D:\data`}
	if strings.Join(c.Arguments, "|") != strings.Join(want, "|") {
		t.Errorf("arguments %q, want %q", c.Arguments, want)
	}
	if c.Name != "storebox" || c.Option["OnFailure"] != "restart" || c.Option["OnFailureDelayDuration"] != "2s" {
		t.Errorf("config %+v", c)
	}
	// No flags: the platform defaults the CLI uses too (before, the service
	// got --data-dir %ProgramData%\storebox\data and the CLI ./storebox-data).
	if c := serviceConfig(Options{Executable: `C:\storebox\storebox.exe`}); strings.Join(c.Arguments, " ") != "run" {
		t.Errorf("arguments without options %q, want [run]", c.Arguments)
	}
}
