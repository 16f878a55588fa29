package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/storebox/storebox/cmd/storebox/internal/datadir"
	"github.com/storebox/storebox/cmd/storebox/internal/localapi"
	"github.com/storebox/storebox/cmd/storebox/internal/report"
	"github.com/storebox/storebox/daemon/devices"
	"github.com/storebox/storebox/daemon/store/admission"
	"github.com/storebox/storebox/internal/termtext"
)

func devicesCommand(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "devices",
		Short: "list devices, pending approvals and live sessions",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.loadConfig()
			if err != nil {
				return err
			}
			var resp struct {
				Devices  []admission.Device    `json:"devices"`
				Sessions []devices.SessionInfo `json:"sessions"`
			}
			api := localapi.New(cfg)
			if api.Reachable() {
				if err := api.Do("GET", "/api/v1/devices", nil, &resp); err != nil {
					return err
				}
			} else {
				if resp.Devices, err = datadir.Devices(cfg); err != nil {
					return err
				}
			}
			return report.Devices(cmd.OutOrStdout(), resp.Devices, resp.Sessions, time.Now())
		},
	}
	for _, verb := range []string{"approve", "reject"} {
		verb := verb
		c.AddCommand(&cobra.Command{
			Use:   verb + " EQUIP_ID",
			Short: verb + " a device",
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				cfg, err := g.loadConfig()
				if err != nil {
					return err
				}
				api := localapi.New(cfg)
				var dev admission.Device
				if api.Reachable() {
					if err := api.Do("POST", "/api/v1/devices/"+args[0]+"/"+verb, nil, &dev); err != nil {
						return err
					}
				} else {
					if dev, err = datadir.SetDeviceStatus(cfg, args[0], verb); err != nil {
						return err
					}
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: %s\n", termtext.Safe(dev.EquipID), dev.Status)
				if dev.LastSeen.IsZero() {
					// Approving ahead of the first login is useful, but a
					// typo looks exactly like it: say which one it may be.
					fmt.Fprintf(cmd.OutOrStdout(), "note: no device %q has connected yet; it is %s ahead of its first login "+
						"(check the spelling if you meant a device you saw: storebox devices)\n", dev.EquipID, dev.Status)
				}
				return nil
			},
		})
	}
	c.AddCommand(&cobra.Command{
		Use:   "forget-pending",
		Short: "delete every device waiting for approval (after a flood of unknown devices; real ones reappear at their next login)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.loadConfig()
			if err != nil {
				return err
			}
			var n int
			api := localapi.New(cfg)
			if api.Reachable() {
				var resp struct {
					Forgotten int `json:"forgotten"`
				}
				if err := api.Do("POST", "/api/v1/devices/pending/forget", nil, &resp); err != nil {
					return err
				}
				n = resp.Forgotten
			} else if n, err = datadir.ForgetPending(cfg); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "forgot %s waiting for approval\n", report.Plural(n, "device"))
			return nil
		},
	})
	return c
}
