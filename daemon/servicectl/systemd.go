package servicectl

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/storebox/storebox/packaging"
	"github.com/storebox/storebox/systemd"
)

// Systemd controls storebox.service with systemctl. Its fields are the
// paths and programs it touches, so tests can point them elsewhere.
type Systemd struct {
	Opts Options
	// UnitDir receives the unit on install (/etc/systemd/system).
	UnitDir string
	// PackageUnitDirs hold the unit when the .deb installed it.
	PackageUnitDirs []string
	// Systemctl runs systemctl with args and returns its combined output.
	Systemctl func(ctx context.Context, args ...string) (string, error)
	// EnsureUser creates the storebox system user and group when missing.
	EnsureUser func(ctx context.Context) error
	// Group, when it exists, gets read access to a config this installs.
	Group string
}

// NewSystemd returns a controller for the machine's systemd.
func NewSystemd(opts Options) *Systemd {
	if opts.ConfigPath == "" {
		opts.ConfigPath = systemd.DefaultConfig
	}
	return &Systemd{
		Opts:            opts,
		UnitDir:         "/etc/systemd/system",
		PackageUnitDirs: []string{"/lib/systemd/system", "/usr/lib/systemd/system"},
		Systemctl:       runSystemctl,
		EnsureUser:      ensureSystemUser,
		Group:           Name,
	}
}

const unitName = Name + ".service"

// Platform implements Controller.
func (s *Systemd) Platform() string { return "linux-systemd" }

func (s *Systemd) ownUnit() string { return filepath.Join(s.UnitDir, unitName) }

func (s *Systemd) packagedUnit() string {
	for _, d := range s.PackageUnitDirs {
		p := filepath.Join(d, unitName)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// Unit renders systemd.Unit with ExecStart and the ExecReload config check
// pointing at opts' executable and config.
func (s *Systemd) Unit() ([]byte, error) {
	for _, p := range []string{s.Opts.Executable, s.Opts.ConfigPath} {
		if hiddenByUnit(p) {
			return nil, fmt.Errorf("%s is under /home, /root or /run/user, which the hardened unit hides (ProtectHome=yes): copy it to /usr/local/bin or /etc/storebox first", p)
		}
	}
	exe, cfg := execArg(s.Opts.Executable, false), execArg(s.Opts.ConfigPath, true)
	unit := systemd.Unit
	for _, l := range []struct{ old, new string }{
		{"ExecStart=" + systemd.DefaultExecutable + " run --config " + systemd.DefaultConfig, "ExecStart=" + exe + " run --config " + cfg},
		{"ExecReload=" + systemd.DefaultExecutable + " config check " + systemd.DefaultConfig, "ExecReload=" + exe + " config check " + cfg},
	} {
		old := []byte("\n" + l.old + "\n")
		if !bytes.Contains(unit, old) {
			return nil, fmt.Errorf("embedded unit has no %q line to rewrite", l.old)
		}
		unit = bytes.Replace(unit, old, []byte("\n"+l.new+"\n"), 1)
	}
	return unit, nil
}

func hiddenByUnit(p string) bool {
	for _, dir := range []string{"/home", "/root", "/run/user"} {
		if p == dir || strings.HasPrefix(p, dir+"/") {
			return true
		}
	}
	return false
}

// execArg quotes one ExecStart word: systemd splits on whitespace and
// expands %specifiers everywhere, and $VARIABLES in arguments (not in the
// command path), even inside quotes.
func execArg(s string, isArg bool) string {
	s = strings.ReplaceAll(s, "%", "%%")
	if isArg {
		s = strings.ReplaceAll(s, "$", "$$")
	}
	if !strings.ContainsFunc(s, needsQuote) {
		return s
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' || c == '"':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func needsQuote(r rune) bool {
	return r <= ' ' || r == 0x7f || strings.ContainsRune("\"'\\;", r)
}

// Install writes the unit to UnitDir, creates the storebox user and the
// default config when missing, reloads systemd and enables the unit. It
// does not start the service.
func (s *Systemd) Install(ctx context.Context) error {
	if p := s.packagedUnit(); p != "" {
		return fmt.Errorf("storebox is already installed by its package (%s): use `storebox service start`, or `apt remove storebox` to remove it", p)
	}
	if _, err := os.Stat(s.ownUnit()); err == nil {
		return fmt.Errorf("storebox service is already installed (%s): `storebox service uninstall` first to reinstall", s.ownUnit())
	}
	unit, err := s.Unit()
	if err != nil {
		return fmt.Errorf("install service: %w", err)
	}
	if err := s.EnsureUser(ctx); err != nil {
		return fmt.Errorf("install service: %w", err)
	}
	if err := s.ensureConfig(); err != nil {
		return fmt.Errorf("install service: %w", err)
	}
	if err := os.MkdirAll(s.UnitDir, 0o755); err != nil {
		return fmt.Errorf("install service: %w", err)
	}
	if err := writeFileAtomic(s.ownUnit(), unit, 0o644); err != nil {
		return fmt.Errorf("install service: %w", err)
	}
	if _, err := s.Systemctl(ctx, "daemon-reload"); err != nil {
		return fmt.Errorf("install service: %w", err)
	}
	if _, err := s.Systemctl(ctx, "enable", unitName); err != nil {
		return fmt.Errorf("install service: %w", err)
	}
	return nil
}

// ensureConfig writes the packaged default config when ConfigPath is
// missing, readable by root and the service group only (it will hold secrets).
func (s *Systemd) ensureConfig() error {
	p := s.Opts.ConfigPath
	if _, err := os.Stat(p); err == nil {
		return nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("config %s: %w", p, err)
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("config dir: %w", err)
	}
	if err := writeFileAtomic(p, packaging.DefaultConfig, 0o640); err != nil {
		return err
	}
	if g, err := user.LookupGroup(s.Group); err == nil {
		gid, _ := strconv.Atoi(g.Gid)
		if err := os.Chown(p, -1, gid); err != nil {
			return fmt.Errorf("config %s: %w", p, err)
		}
	}
	return nil
}

// Uninstall stops and disables the unit this package installed and removes
// it. The storebox user, the config and /var/lib/storebox stay.
func (s *Systemd) Uninstall(ctx context.Context) error {
	if _, err := os.Stat(s.ownUnit()); errors.Is(err, fs.ErrNotExist) {
		if p := s.packagedUnit(); p != "" {
			return fmt.Errorf("storebox was installed by its package (%s): remove it with `apt remove storebox`", p)
		}
		return ErrNotInstalled
	}
	if _, err := s.Systemctl(ctx, "disable", "--now", unitName); err != nil {
		return fmt.Errorf("uninstall service: %w", err)
	}
	if err := os.Remove(s.ownUnit()); err != nil {
		return fmt.Errorf("uninstall service: %w", err)
	}
	if _, err := s.Systemctl(ctx, "daemon-reload"); err != nil {
		return fmt.Errorf("uninstall service: %w", err)
	}
	return nil
}

func (s *Systemd) installed() bool {
	_, err := os.Stat(s.ownUnit())
	return err == nil || s.packagedUnit() != ""
}

func (s *Systemd) action(ctx context.Context, verb string) error {
	if !s.installed() {
		return ErrNotInstalled
	}
	if _, err := s.Systemctl(ctx, verb, unitName); err != nil {
		return fmt.Errorf("%s service: %w", verb, err)
	}
	return nil
}

// Start implements Controller.
func (s *Systemd) Start(ctx context.Context) error { return s.action(ctx, "start") }

// Stop implements Controller.
func (s *Systemd) Stop(ctx context.Context) error { return s.action(ctx, "stop") }

// Restart implements Controller.
func (s *Systemd) Restart(ctx context.Context) error { return s.action(ctx, "restart") }

// Status reads `systemctl show`.
func (s *Systemd) Status(ctx context.Context) (Status, error) {
	st := Status{Platform: s.Platform(), Unit: unitName, State: StateUnknown}
	out, err := s.Systemctl(ctx, "show", unitName, "--property=LoadState,ActiveState,SubState,UnitFileState,FragmentPath,MainPID,NRestarts,StatusText")
	if err != nil {
		return st, fmt.Errorf("service status: %w", err)
	}
	props := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok {
			props[k] = v
		}
	}
	if props["LoadState"] == "not-found" || props["LoadState"] == "" {
		st.State = StateNotInstalled
		return st, nil
	}
	if p := props["FragmentPath"]; p != "" {
		st.Unit = p
	}
	st.Enabled = props["UnitFileState"]
	st.PID, _ = strconv.Atoi(props["MainPID"])
	st.Restarts, _ = strconv.Atoi(props["NRestarts"])
	st.Text = props["StatusText"]
	switch props["ActiveState"] {
	case "active", "reloading":
		st.State = StateRunning
	case "activating":
		st.State = StateStarting
		if props["SubState"] == "auto-restart" {
			st.State = StateFailed
		}
	case "deactivating":
		st.State = StateStopping
	case "inactive":
		st.State = StateStopped
	case "failed":
		st.State = StateFailed
	}
	return st, nil
}

func runSystemctl(ctx context.Context, args ...string) (string, error) {
	out, err := exec.CommandContext(ctx, "systemctl", args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("systemctl %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return string(out), nil
}

// ensureSystemUser creates the storebox system user and group the way the
// .deb's postinst does, and adds it to dialout for serial scales.
func ensureSystemUser(ctx context.Context) error {
	if _, err := user.Lookup(Name); err != nil {
		var cmd *exec.Cmd
		if _, lerr := exec.LookPath("adduser"); lerr == nil {
			cmd = exec.CommandContext(ctx, "adduser", "--system", "--group", "--home", "/var/lib/storebox", "--no-create-home", "--quiet", Name)
		} else {
			cmd = exec.CommandContext(ctx, "useradd", "--system", "--user-group", "--home-dir", "/var/lib/storebox", "--no-create-home", "--shell", "/usr/sbin/nologin", Name)
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("create user %s: %w: %s", Name, err, bytes.TrimSpace(out))
		}
	}
	if _, err := user.LookupGroup("dialout"); err == nil {
		if out, err := exec.CommandContext(ctx, "usermod", "-a", "-G", "dialout", Name).CombinedOutput(); err != nil {
			return fmt.Errorf("add %s to dialout: %w: %s", Name, err, bytes.TrimSpace(out))
		}
	}
	return nil
}

func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
