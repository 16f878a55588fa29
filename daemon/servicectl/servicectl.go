// Package servicectl installs and controls storebox as an OS service and
// decides how the daemon logs.
//
// On Linux with systemd it installs the project's own hardened unit
// (systemd.Unit, the same file the .deb ships), creates the storebox system
// user and a commented default config when missing, and drives systemctl.
// Elsewhere (Windows, macOS) it uses github.com/kardianos/service; on Windows
// the service restarts on failure.
package servicectl

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
)

// Name is the service (and systemd unit, and system user) name.
const Name = "storebox"

// Options says what the installed service runs.
type Options struct {
	// Executable is the storebox binary the service starts; default: this one.
	Executable string
	// ConfigPath is passed as --config. Linux default
	// /etc/storebox/storebox.toml (written from the packaged defaults when
	// missing); elsewhere empty means none.
	ConfigPath string
	// DataDir is passed as --data-dir where the platform has no state
	// directory (Windows default: %ProgramData%\storebox\data).
	DataDir string
}

// State is a coarse service state.
type State string

const (
	StateRunning      State = "running"
	StateStarting     State = "starting"
	StateStopping     State = "stopping"
	StateStopped      State = "stopped"
	StateFailed       State = "failed"
	StateNotInstalled State = "not installed"
	StateUnknown      State = "unknown"
)

// Status describes the installed service.
type Status struct {
	State    State
	Platform string // "linux-systemd", "windows-service", ...
	Unit     string // unit file or service name
	Enabled  string // systemd UnitFileState: enabled, disabled, ...
	PID      int
	Restarts int
	Text     string // the daemon's own STATUS= text, when it sets one
}

// Controller installs and drives the service.
type Controller interface {
	Install(ctx context.Context) error
	Uninstall(ctx context.Context) error
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
	Restart(ctx context.Context) error
	Status(ctx context.Context) (Status, error)
	Platform() string
}

// ErrNotInstalled is returned when acting on a service that is not installed.
var ErrNotInstalled = errors.New("the storebox service is not installed (" + installAdvice + ")")

// New returns the controller for this machine.
func New(opts Options) (Controller, error) {
	if opts.Executable == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("find storebox executable: %w", err)
		}
		opts.Executable = exe
	}
	exe, err := filepath.Abs(opts.Executable)
	if err != nil {
		return nil, fmt.Errorf("service executable %s: %w", opts.Executable, err)
	}
	if resolved, err := filepath.EvalSymlinks(exe); err == nil {
		exe = resolved
	}
	opts.Executable = exe
	if opts.ConfigPath != "" {
		if opts.ConfigPath, err = filepath.Abs(opts.ConfigPath); err != nil {
			return nil, fmt.Errorf("service config %s: %w", opts.ConfigPath, err)
		}
	}
	if runtime.GOOS == "linux" {
		if !systemdRunning() {
			return nil, errors.New("systemd is not running on this machine: `storebox service` supports systemd on Linux; run `storebox run` under your init system instead")
		}
		return NewSystemd(opts), nil
	}
	return newKardianos(opts)
}

func systemdRunning() bool {
	_, err := os.Stat("/run/systemd/system")
	return err == nil
}
