package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/storebox/storebox/cmd/storebox/internal/localapi"
)

// reloadCommand asks the running daemon, through its local API and with
// the admin token, to read its configuration file again: what SIGHUP
// (systemctl reload) does, and the way to do it on Windows.
func reloadCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "reload",
		Short: "make the running daemon read its config file again (doors, admission, payment TTL; all or nothing)",
		Long: "Make the running daemon read its configuration file again and apply what\n" +
			"changes without a restart (doors, devices.admission, devices.approve/reject,\n" +
			"orders.payment_ttl), all or nothing: a file that does not load, or a value\n" +
			"a part refuses, changes nothing and is reported here. Keys a reload does not\n" +
			"reach are named in the daemon's log as needing a restart. Devices stay\n" +
			"connected. Same as SIGHUP (systemctl reload storebox); on Windows, the way.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.loadConfig()
			if err != nil {
				return err
			}
			api := localapi.New(cfg)
			if err := api.Do("POST", "/api/v1/reload", nil, nil); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "configuration reloaded")
			return nil
		},
	}
}
