package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/storebox/storebox/cmd/storebox/internal/datadir"
	"github.com/storebox/storebox/cmd/storebox/internal/drain"
	"github.com/storebox/storebox/cmd/storebox/internal/localapi"
	"github.com/storebox/storebox/cmd/storebox/internal/report"
	"github.com/storebox/storebox/internal/termtext"
)

func syncCommand(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "sync",
		Short: "upstream sync: queue status, drain the queue now",
	}
	c.AddCommand(syncStatusCommand(g), syncNowCommand(g))
	return c
}

func syncStatusCommand(g *globals) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "status",
		Short: "show the upstream queue: depth, age, last success and error, dead letters",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.loadConfig()
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			api := localapi.New(cfg)
			var rep report.SyncReport
			running := api.Reachable()
			if running {
				var raw json.RawMessage
				if err := api.Do("GET", "/api/v1/sync", nil, &raw); err != nil {
					return err
				}
				if asJSON {
					fmt.Fprintln(out, termtext.Lines(string(raw)))
					return nil
				}
				if err := json.Unmarshal(raw, &rep); err != nil {
					return fmt.Errorf("read /api/v1/sync: %w", err)
				}
			} else {
				if rep, err = datadir.Queue(cfg); err != nil {
					return err
				}
				if asJSON {
					return json.NewEncoder(out).Encode(rep)
				}
			}
			report.Sync(out, cfg, rep, running)
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the daemon's JSON as is")
	return c
}

func syncNowCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "now",
		Short: "send every queued event upstream now; exits 0 once the queue is empty",
		Long: "Drains the upstream queue now, through the running daemon, or directly from the\n" +
			"data directory when the daemon is stopped. Exits non-zero with the reason when\n" +
			"the cloud cannot be reached or refuses the requests.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.loadConfig()
			if err != nil {
				return err
			}
			p := drain.NewProgress(cmd.ErrOrStderr())
			defer p.Finish()
			api := localapi.New(cfg)
			if api.Reachable() {
				return drain.ViaDaemon(cmd.Context(), api, p)
			}
			return drain.Direct(cmd.Context(), cfg, p)
		},
	}
}
