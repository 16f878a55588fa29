package servicectl

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/windows/svc"
)

// TestMain: started by the service manager with "run --data-dir DIR" (what
// serviceConfig installs), this test binary is a minimal Windows service
// that writes DIR\stopped when asked to stop.
func TestMain(m *testing.M) {
	if len(os.Args) == 4 && os.Args[1] == "run" && os.Args[2] == "--data-dir" {
		_ = svc.Run(Name, stopRecorder(os.Args[3]))
		return
	}
	os.Exit(m.Run())
}

type stopRecorder string

func (dir stopRecorder) Execute(_ []string, req <-chan svc.ChangeRequest, status chan<- svc.Status) (bool, uint32) {
	status <- svc.Status{State: svc.Running, Accepts: svc.AcceptStop}
	for r := range req {
		switch r.Cmd {
		case svc.Interrogate:
			status <- r.CurrentStatus
		case svc.Stop, svc.Shutdown:
			status <- svc.Status{State: svc.StopPending}
			_ = os.WriteFile(filepath.Join(string(dir), "stopped"), []byte("stopped\n"), 0o600)
			return false, 0
		}
	}
	return false, 0
}

// TestUninstallStopsTheRunningService: `service uninstall` on a running
// service stops it before removing it (kardianos alone deletes it, and the
// daemon keeps serving). It installs a service named storebox, so it runs
// only under Wine (make test-windows sets STOREBOX_UNDER_WINE), never on a
// technician's Windows.
func TestUninstallStopsTheRunningService(t *testing.T) {
	if os.Getenv("STOREBOX_UNDER_WINE") == "" {
		t.Skip("installs a Windows service named storebox: run under make test-windows (Wine)")
	}
	dir := t.TempDir()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctl, err := New(Options{Executable: exe, DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	_ = ctl.Uninstall(ctx) // a leftover from an interrupted run
	if err := ctl.Install(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ctl.Uninstall(ctx) })
	if err := ctl.Start(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		st, err := ctl.Status(ctx)
		if err == nil && st.State == StateRunning {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("service not running within 20s: %+v %v", st, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := ctl.Uninstall(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "stopped")); err != nil {
		t.Fatalf("uninstall left the service running (no stop request reached it): %v", err)
	}
	if st, err := ctl.Status(ctx); err != nil || st.State != StateNotInstalled {
		t.Fatalf("after uninstall: %+v %v", st, err)
	}
}
