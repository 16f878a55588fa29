package main

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/storebox/storebox/daemon/devices"
	"github.com/storebox/storebox/daemon/store"
	"github.com/storebox/storebox/daemon/store/admission"
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
			api := newLocalAPI(cfg)
			if api.reachable() {
				if err := api.do("GET", "/api/v1/devices", nil, &resp); err != nil {
					return err
				}
			} else {
				st, err := store.Open(cfg.DataDir, store.Options{Warehouse: cfg.Warehouse})
				if err != nil {
					return err
				}
				resp.Devices, err = admission.New(st).Devices()
				st.Close()
				if err != nil {
					return err
				}
			}
			online := map[string]devices.SessionInfo{}
			for _, s := range resp.Sessions {
				online[s.EquipID] = s
			}
			now := time.Now()
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "EQUIP ID\tKIND\tSTATUS\tONLINE\tADDR\tLAST SEEN")
			for _, d := range resp.Devices {
				on := "-"
				if s, ok := online[d.EquipID]; ok {
					on = "yes (" + s.Framing + ", " + s.Charset + ")"
				}
				kind := d.Kind
				if kind == "" { // approved ahead of its first login
					kind = "unknown"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", d.EquipID, kind, d.Status, on, statusDash(d.Addr), statusTime(d.LastSeen, now))
			}
			return tw.Flush()
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
				api := newLocalAPI(cfg)
				var dev admission.Device
				if api.reachable() {
					if err := api.do("POST", "/api/v1/devices/"+args[0]+"/"+verb, nil, &dev); err != nil {
						return err
					}
				} else {
					st, err := store.Open(cfg.DataDir, store.Options{Warehouse: cfg.Warehouse})
					if err != nil {
						return err
					}
					status := admission.DeviceApproved
					if verb == "reject" {
						status = admission.DeviceRejected
					}
					dev, err = admission.New(st).SetDeviceStatus(args[0], status)
					st.Close()
					if err != nil {
						return err
					}
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: %s\n", dev.EquipID, dev.Status)
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
	return c
}
