package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/storebox/storebox/cmd/storebox/internal/devclient"
	"github.com/storebox/storebox/cmd/storebox/internal/localapi"
	"github.com/storebox/storebox/daemon/readyfile"
	"github.com/storebox/storebox/internal/termtext"
)

func clientCommand(g *globals) *cobra.Command {
	var addr, equip, kind, cs string
	var length, noLogin bool
	var timeout time.Duration
	c := &cobra.Command{
		Use:   "client ACTION [key=value ...]",
		Short: "send one device-protocol request and print the reply JSON",
		Long: `Logs in as --equip (unless --no-login or ACTION is login), sends ACTION with a
body built from the arguments, and prints the reply JSON. As in httpie,
key=value sends a string and key:=json sends raw JSON (numbers, arrays,
objects). Examples:
  storebox client getGoods code=6921168509256
  storebox client getAllGoods ost:=0 lmt:=5
  storebox client stockGoods whid=main ref=R-1 'lines:=[{"gid":"10001","qty":12}]'`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			body, err := devclient.Body(args[1:])
			if err != nil {
				return err
			}
			if addr == "" {
				cfg, err := g.loadConfig()
				if err != nil {
					return err
				}
				addr = localapi.DialAddr(localapi.BoundListen(cfg, cfg.Devices.Listen, func(f readyfile.File) string { return f.Devices }))
			}
			sess, err := devclient.Dial(addr, equip, length, timeout)
			if err != nil {
				return err
			}
			defer sess.Close()
			action := args[0]
			if action != "login" && !noLogin {
				if r, err := sess.Login(kind, cs); err != nil {
					if r != nil {
						fmt.Fprintln(cmd.OutOrStdout(), termtext.Lines(string(r)))
					}
					return err
				}
			}
			r, err := sess.Send(action, body)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), termtext.Lines(string(r)))
			if e := devclient.Exception(r); e != "" {
				return fmt.Errorf("%s", e)
			}
			return nil
		},
	}
	c.Flags().StringVar(&addr, "addr", "", "device protocol host:port (default: devices.listen from the config, on this machine)")
	c.Flags().StringVar(&equip, "equip", "T-CLI", "equipId to log in as")
	c.Flags().StringVar(&kind, "kind", "", "device kind (inferred from the equipId when empty)")
	c.Flags().StringVar(&cs, "charset", "", "utf-8 or gbk")
	c.Flags().BoolVar(&length, "length-framing", false, "use 4-byte length framing instead of lines")
	c.Flags().BoolVar(&noLogin, "no-login", false, "do not log in first")
	c.Flags().DurationVar(&timeout, "timeout", 5*time.Second, "connect and reply timeout")
	return c
}
