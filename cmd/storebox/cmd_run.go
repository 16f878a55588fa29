package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/storebox/storebox/cmd/storebox/internal/runrecord"
	"github.com/storebox/storebox/daemon"
	"github.com/storebox/storebox/daemon/memlimit"
	"github.com/storebox/storebox/daemon/servicectl"
	"github.com/storebox/storebox/internal/buildinfo"
)

func runCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "run",
		Short: "run the daemon in the foreground (also what the service runs)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.loadOwnConfig()
			if err != nil {
				return err
			}
			log, err := servicectl.NewLogger(os.Stderr, cfg.Log.Format, cfg.Log.Level)
			if err != nil {
				return err
			}
			if err := runrecord.Write(cfg); err != nil {
				log.Warn("the CLI will not find this config without --config", "err", err)
			}
			floor := tuneGC()
			defer runtime.KeepAlive(floor)
			log.Info("memory", "limit", memlimit.Apply(memlimit.System()))
			if runtime.GOOS == "windows" {
				log.Info("windows", "service", servicectl.UnderServiceManager(), "parent", servicectl.ParentImage())
			}
			if built, ok := buildinfo.Built(buildTime); ok {
				if msg := buildinfo.ClockBeforeBuild(time.Now(), built); msg != "" {
					log.Error(msg)
				}
			}
			return servicectl.RunAsService(cmd.Context(), func(ctx context.Context) error {
				d, err := daemon.New(cfg, version, log)
				if err != nil {
					return err
				}
				d.SetConfigSource(g.loadOwnConfig)
				go reloadOnHUP(ctx, d, log)
				if err := d.Run(ctx); err != nil {
					return fmt.Errorf("%w", err)
				}
				return nil
			})
		},
	}
}

// reloadOnHUP reads the configuration file again on SIGHUP (systemctl
// reload) and hands it to the daemon, which applies what can change
// without a restart, all or nothing. A file that does not load is logged
// and changes nothing. (Windows has no SIGHUP: `storebox reload`.)
func reloadOnHUP(ctx context.Context, d *daemon.Daemon, log *slog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
		}
		if err := d.ReloadSource(); err != nil {
			log.Error("reload: configuration not applied", "err", err)
		}
	}
}

// tuneGC collects at 50 % heap growth instead of Go's 100 %, unless GOGC
// says otherwise, and returns a heap floor for the caller to keep alive.
// The catalog index lives outside the heap, so what is left is the
// working set of connections and requests (~15 MB): a collection of it is
// cheap, but without the floor one would run every ~7 MB allocated.
func tuneGC() []byte {
	if _, set := os.LookupEnv("GOGC"); set {
		return nil
	}
	debug.SetGCPercent(50)
	return memlimit.HeapFloor(32 << 20)
}
