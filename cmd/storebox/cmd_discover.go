package main

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/storebox/storebox/cmd/storebox/internal/probe"
	"github.com/storebox/storebox/cmd/storebox/internal/report"
	"github.com/storebox/storebox/daemon/discovery"
)

func discoverCommand(g *globals) *cobra.Command {
	var (
		timeout time.Duration
		addrs   []string
		asJSON  bool
		mdns    bool
	)
	cmd := &cobra.Command{
		Use:   "discover",
		Short: "find storebox daemons on the local network",
		Long: `discover sends the UDP discovery probe (PROTOCOL.md §3) and browses mDNS for
_storebox._tcp, then lists every box that answered, one line each:
store id, name, device address, MQTT and HTTP ports, version, and how it
answered. By default the probe is broadcast (255.255.255.255, each
interface's subnet broadcast, and 127.0.0.1) on the discovery port of the
config (discovery.listen, 8686 by default); --addr probes given addresses
instead and then skips mDNS unless --mdns is set.`,
		Example: `  storebox discover
  storebox discover --timeout 5s --json
  storebox discover --addr 192.168.1.20`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if timeout <= 0 {
				return fmt.Errorf("--timeout must be positive, e.g. 2s")
			}
			useMDNS := mdns
			if !cmd.Flags().Changed("mdns") {
				useMDNS = len(addrs) == 0
			}
			cfg, err := g.loadConfig()
			if err != nil {
				return err
			}
			targets, port := probe.Targets(cfg, addrs)
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelWarn}))
			boxes, err := discovery.Find(cmd.Context(), discovery.FindOptions{
				Targets: targets,
				Timeout: timeout,
				MDNS:    useMDNS,
				Log:     log,
			})
			if err != nil {
				return err
			}
			if len(boxes) == 0 {
				how := "broadcast UDP " + fmt.Sprint(port)
				if len(addrs) > 0 {
					how = "UDP " + strings.Join(targets, ", ")
				}
				if useMDNS {
					how += " and mDNS"
				}
				return fmt.Errorf("no storebox answered within %s (%s); check that the box is running, on this network, and that UDP %d is not blocked, or try --timeout 5s", timeout, how, port)
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetEscapeHTML(false)
				for _, b := range boxes {
					if err := enc.Encode(b); err != nil {
						return err
					}
				}
				return nil
			}
			return report.Boxes(out, boxes)
		},
	}
	f := cmd.Flags()
	f.DurationVar(&timeout, "timeout", 2*time.Second, "how long to wait for answers")
	f.StringArrayVar(&addrs, "addr", nil, "UDP address to probe instead of broadcasting (repeatable; port defaults to the config's discovery port)")
	f.BoolVar(&asJSON, "json", false, "print one JSON object per box")
	f.BoolVar(&mdns, "mdns", true, "also browse mDNS (default: on unless --addr is given)")
	return cmd
}
