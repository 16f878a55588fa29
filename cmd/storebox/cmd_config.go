package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/storebox/storebox/daemon"
	"github.com/storebox/storebox/daemon/config"
)

func configCommand() *cobra.Command {
	c := &cobra.Command{Use: "config", Short: "configuration tools"}
	c.AddCommand(&cobra.Command{
		Use:   "check FILE",
		Short: "validate a config file (errors as file:line: key: problem)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := config.Load(args[0])
			if err != nil {
				return err
			}
			// What `run` checks beyond the file's values, without opening
			// or binding anything.
			if err := daemon.CheckConfig(cfg); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: ok\n", args[0])
			return nil
		},
	})
	return c
}
