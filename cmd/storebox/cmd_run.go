package main

import (
	"context"
	"fmt"
	"os"

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
			return servicectl.RunAsService(cmd.Context(), func(ctx context.Context) error {
				if err := daemon.New(cfg, version, log).Run(ctx); err != nil {
					return fmt.Errorf("%w", err)
				}
				return nil
			})
		},
	}
}
