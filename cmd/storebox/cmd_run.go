package main

import (
	"context"
	"fmt"
	"os"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/storebox/storebox/daemon"
	"github.com/storebox/storebox/daemon/servicectl"
)

func runCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "run",
		Short: "run the daemon in the foreground (also what the service runs)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.loadConfig()
			if err != nil {
				return err
			}
			log, err := servicectl.NewLogger(os.Stderr, cfg.Log.Format, cfg.Log.Level)
			if err != nil {
				return err
			}
			tuneGC()
			return servicectl.RunAsService(cmd.Context(), func(ctx context.Context) error {
				if err := daemon.New(cfg, version, log).Run(ctx); err != nil {
					return fmt.Errorf("%w", err)
				}
				return nil
			})
		},
	}
}

// tuneGC collects at 50 % heap growth instead of Go's 100 %, unless GOGC
// says otherwise. Most of the daemon's heap is the catalog index, long-lived
// and pointer-free, so a collection costs little CPU, while the default
// would let the heap grow to twice it (a million goods: ~1.1 GB of heap
// for ~0.5 GB live).
func tuneGC() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(50)
	}
}
