package servicectl

import (
	"context"
	"errors"
	"fmt"

	"github.com/kardianos/service"
)

// serviceConfig is what kardianos installs on Windows and macOS: storebox
// run with the config and data dir made absolute (a Windows service starts
// in C:\Windows\System32). Without them the service runs with the
// platform's defaults (Windows: %ProgramData%\storebox\storebox.toml when
// present, data in %ProgramData%\storebox\data), the same the CLI uses
// with no flags, so `storebox status` finds the service's daemon.
func serviceConfig(opts Options) *service.Config {
	args := []string{"run"}
	if opts.ConfigPath != "" {
		args = append(args, "--config", opts.ConfigPath)
	}
	if opts.DataDir != "" {
		args = append(args, "--data-dir", opts.DataDir)
	}
	return &service.Config{
		Name:        Name,
		DisplayName: "storebox store daemon",
		Description: "storebox: devices, doors, scales and cloud sync for the store.",
		Executable:  opts.Executable,
		Arguments:   args,
		Option: service.KeyValue{
			// Windows: restart 2s after any crash; the failure count resets
			// after a day without one.
			"OnFailure":              "restart",
			"OnFailureDelayDuration": "2s",
			"OnFailureResetPeriod":   86400,
			"StartType":              "automatic",
			"DelayedAutoStart":       true,
			// macOS launchd: keep it running.
			"KeepAlive": true,
			"RunAtLoad": true,
		},
	}
}

type kardianosController struct {
	svc service.Service
}

// noProgram satisfies service.Interface for control-only use.
type noProgram struct{}

func (noProgram) Start(service.Service) error { return nil }
func (noProgram) Stop(service.Service) error  { return nil }

func newKardianos(opts Options) (Controller, error) {
	s, err := service.New(noProgram{}, serviceConfig(opts))
	if err != nil {
		return nil, fmt.Errorf("service manager: %w", err)
	}
	return &kardianosController{svc: s}, nil
}

func (k *kardianosController) Platform() string { return k.svc.Platform() }

func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, service.ErrNotInstalled) {
		return ErrNotInstalled
	}
	return fmt.Errorf("%s service: %w", op, err)
}

func (k *kardianosController) Install(context.Context) error {
	return wrap("install", k.svc.Install())
}

// Uninstall stops a running service first: kardianos only deletes it, and
// Windows then keeps the process serving until it stops on its own.
func (k *kardianosController) Uninstall(ctx context.Context) error {
	if err := stopBeforeRemove(ctx); err != nil {
		return wrap("uninstall", err)
	}
	return wrap("uninstall", k.svc.Uninstall())
}
func (k *kardianosController) Start(context.Context) error { return wrap("start", k.svc.Start()) }
func (k *kardianosController) Stop(context.Context) error  { return wrap("stop", k.svc.Stop()) }
func (k *kardianosController) Restart(context.Context) error {
	return wrap("restart", k.svc.Restart())
}

func (k *kardianosController) Status(context.Context) (Status, error) {
	st := Status{Platform: k.svc.Platform(), Unit: Name, State: StateUnknown}
	s, err := k.svc.Status()
	switch {
	case errors.Is(err, service.ErrNotInstalled):
		st.State = StateNotInstalled
		return st, nil
	case err != nil:
		return st, fmt.Errorf("service status: %w", err)
	case s == service.StatusRunning:
		st.State = StateRunning
	case s == service.StatusStopped:
		st.State = StateStopped
	}
	return st, nil
}
