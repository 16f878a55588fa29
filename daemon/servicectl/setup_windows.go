package servicectl

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/windows/svc/eventlog"
	"golang.org/x/sys/windows/svc/mgr"

	"github.com/storebox/storebox/daemon/config"
	"github.com/storebox/storebox/internal/private"
	"github.com/storebox/storebox/packaging"
)

// SetupWindows finishes an installed storebox service the way the MSI and
// `storebox service install` need it: restart on failure (2 s, 2 s, 10 s;
// the count resets after a day), the Event Log source, the data directory
// with its private ACL, and inbound firewall rules for cfg's ports, for
// exe only. Firewall failures are reported on w and do not fail the setup
// (a third-party firewall may own the rules); the rest does.
func SetupWindows(cfg *config.Config, exe string, w io.Writer) error {
	m, err := mgr.Connect()
	if err != nil {
		return fmt.Errorf("service manager: %w", err)
	}
	defer m.Disconnect()
	s, err := m.OpenService(Name)
	if err != nil {
		return fmt.Errorf("open service %s: %w", Name, err)
	}
	defer s.Close()
	err = s.SetRecoveryActions([]mgr.RecoveryAction{
		{Type: mgr.ServiceRestart, Delay: 2 * time.Second},
		{Type: mgr.ServiceRestart, Delay: 2 * time.Second},
		{Type: mgr.ServiceRestart, Delay: 10 * time.Second},
	}, 86400)
	if err != nil {
		return fmt.Errorf("service %s: restart on failure: %w", Name, err)
	}
	if err := eventlog.InstallAsEventCreate(Name, eventlog.Error|eventlog.Warning|eventlog.Info); err != nil && !strings.Contains(err.Error(), "exists") {
		return fmt.Errorf("event log source %s: %w", Name, err)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return fmt.Errorf("data directory %s: %w", cfg.DataDir, err)
	}
	if err := private.Restrict(cfg.DataDir); err != nil {
		return err
	}
	if err := os.MkdirAll(LogDir(), 0o755); err != nil {
		return fmt.Errorf("log directory %s: %w", LogDir(), err)
	}
	for _, e := range setFirewall(cfg, exe) {
		fmt.Fprintln(w, "storebox: firewall:", e)
	}
	return nil
}

// RemoveWindows undoes what SetupWindows added besides the data: the
// firewall rules and the Event Log source.
func RemoveWindows(exe string, w io.Writer) {
	if out, err := netsh(NetshDeleteAll(exe)...); err != nil {
		fmt.Fprintf(w, "storebox: firewall: remove the rules: %v: %s\n", err, out)
	}
	_ = eventlog.Remove(Name)
}

// setFirewall replaces exe's rules with cfg's; it returns what failed.
func setFirewall(cfg *config.Config, exe string) []error {
	_, _ = netsh(NetshDeleteAll(exe)...) // none yet is fine
	var errs []error
	for _, r := range FirewallRules(cfg) {
		if out, err := netsh(r.NetshAdd(exe)...); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w: %s", r.Name, err, strings.TrimSpace(out)))
		}
	}
	return errs
}

func netsh(args ...string) (string, error) {
	bin := filepath.Join(os.Getenv("SystemRoot"), "System32", "netsh.exe")
	if _, err := os.Stat(bin); errors.Is(err, os.ErrNotExist) {
		bin = "netsh.exe"
	}
	out, err := exec.Command(bin, args...).CombinedOutput()
	return string(out), err
}

// EnsureWindowsConfig writes the commented default config (Windows paths)
// to path when no file is there, and never over one: an upgrade or a
// reinstall keeps the store's settings, as the .deb's conffile does.
func EnsureWindowsConfig(path string) (written bool, err error) {
	if _, err := os.Stat(path); err == nil {
		return false, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return false, fmt.Errorf("config directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("write the default config: %w", err)
	}
	if _, err := f.Write(packaging.WindowsConfig()); err != nil {
		f.Close()
		return false, fmt.Errorf("write the default config %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return false, fmt.Errorf("write the default config %s: %w", path, err)
	}
	// It may hold secrets once edited.
	return true, private.Restrict(path)
}
