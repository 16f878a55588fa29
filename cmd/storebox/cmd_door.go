package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"os"

	"github.com/spf13/cobra"

	"github.com/storebox/storebox/cmd/storebox/internal/doorsetup"
	"github.com/storebox/storebox/cmd/storebox/internal/localapi"
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
			api := localapi.New(cfg)
			if err := api.NeedToken(cfg); err != nil {
				return err
			}
			body, _ := json.Marshal(map[string]string{"openId": openID, "reason": reason})
			var resp map[string]any
			if err := api.Do("POST", "/api/v1/doors/"+url.PathEscape(args[0])+"/open", bytes.NewReader(body), &resp); err != nil {
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
// MQTT broker (register it under the `sim` command). The broker, store id
// and the door's secret come from the config unless given as flags.
func simDoorCommand(g *globals) *cobra.Command {
	var cfg doorsim.Config
	var verbose bool
	c := &cobra.Command{
		Use:   "door --id ID [--secret SECRET]",
		Short: "simulate an MQTT door: ack cmds, publish state, send scans typed on stdin",
		Long: `Connects to the daemon's MQTT broker as a door, answers open/lock cmds with
an ack (unless --no-ack), publishes its retained state (open, then closed after
duration_ms) and reads lines from stdin:
  scan OPENID [CODE]        send a scan event
  state open|closed|fault   publish a state
  quit
The broker (mqtt.listen), the store id (store_id) and the door's secret (its
[[doors]] entry, or the applied remote configuration's doors, as the daemon
runs them) are read from the config, found as every command finds it
(--config, the installed file, or the one the daemon last ran with); the
flags override them. It says when it loses its connection and when it is
back.`,
		Example: `  storebox sim door --id front                 # with make run's demo config
  storebox sim door --id front --config /etc/storebox/storebox.toml
  storebox sim door --id D1 --secret s3 --store store-7 --broker 10.0.0.5:1883`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cfg.DoorID == "" {
				return fmt.Errorf("--id is required (a door id from the config's [[doors]])")
			}
			sc, err := g.loadConfig()
			if err != nil {
				return err
			}
			if err := doorsetup.Fill(&cfg, sc, cmd.Flags().Changed); err != nil {
				return err
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
	c.Flags().StringVar(&cfg.Secret, "secret", "", "door secret (the MQTT password; default: from the door's [[doors]] entry)")
	c.Flags().StringVar(&cfg.Broker, "broker", "127.0.0.1:1883", "MQTT broker host:port (default: from mqtt.listen)")
	c.Flags().StringVar(&cfg.StoreID, "store", "store-1", "store id, the topic prefix storebox/<store>/door/<id>/ (default: from store_id)")
	c.Flags().BoolVar(&cfg.NoAck, "no-ack", false, "never ack cmds (to see the daemon's retries)")
	c.Flags().BoolVarP(&verbose, "verbose", "v", false, "log connection details to stderr")
	return c
}
