package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"os"

	"github.com/spf13/cobra"

	"github.com/storebox/storebox/daemon/doors/doorsim"
)

// doorCommand is `storebox door open ID`: staff opening through the running
// daemon's local API (POST /api/v1/doors/{id}/open, admin token).
func doorCommand(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "door",
		Short: "operate MQTT doors through the running daemon",
	}
	var openID, reason string
	open := &cobra.Command{
		Use:   "open ID",
		Short: "open a door now (recorded as door.opened or door.open_failed)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := g.loadConfig()
			if err != nil {
				return err
			}
			api := newLocalAPI(cfg)
			if api.token == "" {
				return fmt.Errorf("no admin token in %s (run as the storebox user or root, or set http.admin_token)", cfg.DataDir)
			}
			body, _ := json.Marshal(map[string]string{"openId": openID, "reason": reason})
			var resp map[string]any
			if err := api.do("POST", "/api/v1/doors/"+url.PathEscape(args[0])+"/open", bytes.NewReader(body), &resp); err != nil {
				return err // the daemon's message already names the door
			}
			fmt.Fprintf(cmd.OutOrStdout(), "door %s opened\n", args[0])
			return nil
		},
	}
	open.Flags().StringVar(&openID, "open-id", "", "openId to record with the opening")
	open.Flags().StringVar(&reason, "reason", "staff", "reason recorded in the ledger event")
	c.AddCommand(open)
	return c
}

// simDoorCommand is `storebox sim door`: a door simulator for the store's
// MQTT broker (register it under the `sim` command).
func simDoorCommand() *cobra.Command {
	var cfg doorsim.Config
	var verbose bool
	c := &cobra.Command{
		Use:   "door --id ID --secret SECRET",
		Short: "simulate an MQTT door: ack cmds, publish state, send scans typed on stdin",
		Long: `Connects to the daemon's MQTT broker as a door, answers open/lock cmds with
an ack (unless --no-ack), publishes its retained state (open, then closed after
duration_ms) and reads lines from stdin:
  scan OPENID [CODE]        send a scan event
  state open|closed|fault   publish a state
  quit`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cfg.DoorID == "" || cfg.Secret == "" {
				return fmt.Errorf("--id and --secret are required")
			}
			lv := slog.LevelWarn
			if verbose {
				lv = slog.LevelDebug
			}
			cfg.Log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lv}))
			return doorsim.Run(cmd.Context(), cfg, cmd.InOrStdin(), cmd.OutOrStdout())
		},
	}
	c.Flags().StringVar(&cfg.DoorID, "id", "", "door id (the MQTT username)")
	c.Flags().StringVar(&cfg.Secret, "secret", "", "door secret (the MQTT password)")
	c.Flags().StringVar(&cfg.Broker, "broker", "127.0.0.1:1883", "MQTT broker host:port")
	c.Flags().StringVar(&cfg.StoreID, "store", "store-1", "store id (topic prefix storebox/<store>/door/<id>/)")
	c.Flags().BoolVar(&cfg.NoAck, "no-ack", false, "never ack cmds (to see the daemon's retries)")
	c.Flags().BoolVarP(&verbose, "verbose", "v", false, "log connection details to stderr")
	return c
}
