package main

import (
	"errors"
	"fmt"
	"os"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/storebox/storebox/cmd/storebox/internal/report"
	"github.com/storebox/storebox/daemon/config"
	"github.com/storebox/storebox/daemon/servicectl"
)

// serviceCommand is `storebox service install|uninstall|start|stop|restart|status`.
func serviceCommand(g *globals) *cobra.Command {
	var executable string
	controller := func() (servicectl.Controller, error) {
		return servicectl.New(servicectl.Options{Executable: executable, ConfigPath: g.configPath, DataDir: g.dataDir})
	}
	c := &cobra.Command{
		Use:   "service",
		Short: "install and control storebox as a system service (systemd, Windows service)",
	}
	c.PersistentFlags().StringVar(&executable, "executable", "", "storebox binary the service runs (default: this one)")

	install := &cobra.Command{
		Use:   "install",
		Short: "install and enable the service (run as root / Administrator)",
		Long: "Install storebox as a service that starts at boot and restarts on failure.\n" +
			"On Linux it installs the hardened systemd unit, creates the storebox user and,\n" +
			"when missing, a commented default config at " + config.DefaultConfigPath + ".",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path := g.configPath
			if path == "" && runtime.GOOS == "linux" {
				path = config.DefaultConfigPath
			}
			if path != "" {
				if _, err := os.Stat(path); err == nil {
					if _, err := config.Load(path); err != nil {
						return fmt.Errorf("the service would not start; fix the config first:\n%w", err)
					}
				}
			}
			if err := needRoot("install"); err != nil {
				return err
			}
			ctl, err := controller()
			if err != nil {
				return err
			}
			if err := ctl.Install(cmd.Context()); err != nil {
				return err
			}
			if runtime.GOOS == "windows" {
				if err := windowsSetup(g, executable, cmd); err != nil {
					return err
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "storebox service installed and enabled (%s); start it with: storebox service start\n", ctl.Platform())
			return nil
		},
	}
	uninstall := &cobra.Command{
		Use:   "uninstall",
		Short: "stop and remove the service (config and data are kept)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := needRoot("uninstall"); err != nil {
				return err
			}
			ctl, err := controller()
			if err != nil {
				return err
			}
			if err := ctl.Uninstall(cmd.Context()); err != nil {
				return err
			}
			if runtime.GOOS == "windows" {
				servicectl.RemoveWindows(serviceExe(executable), cmd.ErrOrStderr())
			}
			fmt.Fprintln(cmd.OutOrStdout(), "storebox service removed; its config and data directory were kept")
			return nil
		},
	}
	c.AddCommand(install, uninstall)
	// The MSI's custom actions: after its ServiceInstall, what the MSI
	// tables cannot say (restart on failure, firewall rules, the Event Log
	// source, the data directory's ACL); before its removal, the rules.
	c.AddCommand(&cobra.Command{
		Use: "windows-setup", Hidden: true, Args: cobra.NoArgs,
		Short: "finish the installed Windows service (the MSI runs it)",
		RunE:  func(cmd *cobra.Command, _ []string) error { return windowsSetup(g, executable, cmd) },
	}, &cobra.Command{
		Use: "windows-remove", Hidden: true, Args: cobra.NoArgs,
		Short: "remove storebox's firewall rules and Event Log source (the MSI runs it)",
		Run: func(cmd *cobra.Command, _ []string) {
			servicectl.RemoveWindows(serviceExe(executable), cmd.ErrOrStderr())
		},
	})
	for _, a := range []struct {
		verb, short, done string
		fn                func(servicectl.Controller, *cobra.Command) error
	}{
		{"start", "start the service", "started", func(ctl servicectl.Controller, cmd *cobra.Command) error { return ctl.Start(cmd.Context()) }},
		{"stop", "stop the service", "stopped", func(ctl servicectl.Controller, cmd *cobra.Command) error { return ctl.Stop(cmd.Context()) }},
		{"restart", "restart the service (e.g. after editing the config)", "restarted", func(ctl servicectl.Controller, cmd *cobra.Command) error { return ctl.Restart(cmd.Context()) }},
	} {
		c.AddCommand(&cobra.Command{
			Use:   a.verb,
			Short: a.short,
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				ctl, err := controller()
				if err != nil {
					return err
				}
				if err := a.fn(ctl, cmd); err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), "storebox service", a.done)
				return nil
			},
		})
	}
	c.AddCommand(&cobra.Command{
		Use:   "status",
		Short: "show the service state (exit status 1 unless running)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctl, err := controller()
			if err != nil {
				return err
			}
			st, err := ctl.Status(cmd.Context())
			if err != nil {
				return err
			}
			report.Service(cmd.OutOrStdout(), st)
			if st.State != servicectl.StateRunning {
				if st.State == servicectl.StateNotInstalled {
					return servicectl.ErrNotInstalled
				}
				return errors.New("the storebox service is " + string(st.State))
			}
			return nil
		},
	})
	return c
}

// needRoot fails early, with the fix, where installing needs root.
func needRoot(verb string) error {
	if runtime.GOOS != "windows" && os.Geteuid() != 0 {
		return fmt.Errorf("storebox service %s needs root: sudo storebox service %s", verb, verb)
	}
	return nil
}

// windowsSetup runs servicectl.SetupWindows with the config the service
// uses (the default one unless --config).
func windowsSetup(g *globals, executable string, cmd *cobra.Command) error {
	if g.configPath == "" {
		written, err := servicectl.EnsureWindowsConfig(config.DefaultConfigPath)
		if err != nil {
			return err
		}
		if written {
			fmt.Fprintln(cmd.OutOrStdout(), "storebox: wrote the commented default config", config.DefaultConfigPath)
		}
	}
	cfg, err := g.loadOwnConfig()
	if err != nil {
		return err
	}
	if err := servicectl.SetupWindows(cfg, serviceExe(executable), cmd.ErrOrStderr()); err != nil {
		return err
	}
	fmt.Fprintln(cmd.OutOrStdout(), "storebox service: restart on failure, Event Log source, data directory and firewall rules set")
	return nil
}

// serviceExe is the binary the service runs: --executable, else this one.
func serviceExe(executable string) string {
	if executable != "" {
		return executable
	}
	exe, _ := os.Executable()
	return exe
}
