// Command storebox is the store daemon and its technician CLI.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/storebox/storebox/cmd/storebox/internal/runrecord"
	"github.com/storebox/storebox/daemon/config"
	"github.com/storebox/storebox/daemon/servicectl"
	"github.com/storebox/storebox/internal/termtext"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

// buildTime is when the binary was made at the latest (RFC 3339), set by
// -ldflags "-X main.buildTime=…" (make, the .deb).
var buildTime string

// globals are the flags every subcommand accepts.
type globals struct {
	configPath string
	dataDir    string
}

// loadConfig finds the config the way PROTOCOL.md §1 says: --config, else the
// installed default when it exists, else embedded defaults; --data-dir wins.
// Without --config it then follows the data directory's run record: a
// daemon started by hand (`make run` with packaging/demo.toml) leaves the
// path of its config there, so `storebox doctor`, `devices`, `client`…
// run from the same place talk about the same store.
func (g *globals) loadConfig() (*config.Config, error) {
	c, err := g.loadOwnConfig()
	if err != nil || g.configPath != "" {
		return c, err
	}
	return runrecord.Follow(c, g.dataDir == "")
}

// loadOwnConfig is loadConfig without the run record: what `storebox run`
// uses, so a daemon never starts on another run's configuration.
func (g *globals) loadOwnConfig() (*config.Config, error) {
	path := g.configPath
	if path == "" {
		if _, err := os.Stat(config.DefaultConfigPath); err == nil {
			path = config.DefaultConfigPath
		}
	}
	c, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	if g.dataDir != "" {
		c.DataDir = g.dataDir
	}
	return c, nil
}

func rootCommand() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:           "storebox",
		Short:         "storebox: the store's local daemon and technician tools",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&g.configPath, "config", "", "config file (default "+config.DefaultConfigPath+" when present)")
	root.PersistentFlags().StringVar(&g.dataDir, "data-dir", "", "data directory (overrides data_dir)")
	for _, c := range subcommands(g) {
		root.AddCommand(c)
	}
	return root
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := rootCommand().ExecuteContext(ctx); err != nil {
		// An error may quote a device, the cloud or the daemon's reply.
		fmt.Fprintln(os.Stderr, "storebox:", termtext.Lines(err.Error()))
		// A service has no stderr: the log file and the Event Log on Windows.
		servicectl.ReportFatal(err)
		// 78 for config errors: the unit does not restart those.
		os.Exit(servicectl.ExitCode(err))
	}
}
