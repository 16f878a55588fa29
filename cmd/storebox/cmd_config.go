package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/storebox/storebox/daemon/config"
)

func configCommand() *cobra.Command {
	c := &cobra.Command{Use: "config", Short: "configuration tools"}
	c.AddCommand(&cobra.Command{
		Use:   "check FILE",
		Short: "validate a config file (errors as file:line: key: problem)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := config.Load(args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: ok\n", args[0])
			return nil
		},
	})
	return c
}
