package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/storebox/storebox/cmd/storebox/internal/localapi"
	"github.com/storebox/storebox/cmd/storebox/internal/report"
	"github.com/storebox/storebox/daemon/httpapi"
	"github.com/storebox/storebox/daemon/servicectl"
	"github.com/storebox/storebox/internal/termtext"
)

func statusCommand(g *globals) *cobra.Command {
	var (
		asJSON bool
		limit  int
	)
	cmd := &cobra.Command{
		Use:   "status",
		Short: "show what the status page shows: devices, approvals, scales, doors, sync, orders",
		Long: `status asks the running daemon (its local HTTP API) for its status
snapshot and prints it: store, version, uptime, devices by kind, pending
approvals, online sessions, scales, doors, the upstream queue and recent
orders. --json prints the snapshot exactly as GET /api/v1/status returns it.`,
		Example: `  storebox status
  storebox status --json | jq .queue
  storebox status --config /etc/storebox/storebox.toml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.loadConfig()
			if err != nil {
				return err
			}
			api := localapi.New(cfg)
			var raw json.RawMessage
			if err := api.Do("GET", "/api/v1/status", nil, &raw); err != nil {
				if _, other := errors.AsType[*localapi.OtherDataDirError](err); other {
					return err
				}
				return fmt.Errorf("%w; start it with `storebox run` or `%s`, and `storebox doctor` checks the setup", err, servicectl.StartCommand)
			}
			out := cmd.OutOrStdout()
			if asJSON {
				// \uXXXX is how termtext escapes C1 and bidi controls, a
				// JSON escape of the same character: the data is unchanged.
				_, err := fmt.Fprintf(out, "%s\n", termtext.Lines(string(raw)))
				return err
			}
			var s httpapi.StatusSnapshot
			if err := json.Unmarshal(raw, &s); err != nil {
				return fmt.Errorf("decode status from the daemon: %w", err)
			}
			return report.Status(out, &s, limit, time.Now())
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the raw JSON snapshot")
	cmd.Flags().IntVar(&limit, "limit", 20, "online sessions and recent orders to list (0 = all)")
	return cmd
}
