package main

import (
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/storebox/storebox/daemon/readyfile"
	"github.com/storebox/storebox/protocol/charset"
	"github.com/storebox/storebox/protocol/frame"
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
			body := map[string]any{}
			for _, kv := range args[1:] {
				if k, v, ok := strings.Cut(kv, ":="); ok && !strings.Contains(k, "=") {
					var j any
					if err := json.Unmarshal([]byte(v), &j); err != nil {
						return fmt.Errorf("%s: %q is not JSON: %v", k, v, err)
					}
					body[k] = j
					continue
				}
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					return fmt.Errorf("%q is neither key=value nor key:=json", kv)
				}
				body[k] = v
			}
			if addr == "" {
				cfg, err := g.loadConfig()
				if err != nil {
					return err
				}
				addr = localDialAddr(boundListen(cfg, cfg.Devices.Listen, func(f readyfile.File) string { return f.Devices }))
			}
			conn, err := net.DialTimeout("tcp", addr, timeout)
			if err != nil {
				return fmt.Errorf("%w (is storebox running? it prints \"storebox ready\" once it accepts devices)", err)
			}
			defer conn.Close()
			mode := frame.ModeLine
			if length {
				mode = frame.ModeLength
			}
			fr := frame.NewReader(conn, 0)
			gbk := false
			seq := int64(0)
			send := func(action string, b map[string]any) (json.RawMessage, error) {
				seq++
				msg, _ := json.Marshal(map[string]any{"head": map[string]any{"action": action, "equipId": equip, "seq": seq}, "body": b})
				if gbk {
					msg = charset.EncodeJSONToGBK(msg)
				}
				conn.SetDeadline(time.Now().Add(timeout))
				if _, err := conn.Write(frame.Append(nil, mode, msg)); err != nil {
					return nil, err
				}
				for {
					p, err := fr.Next()
					if err != nil {
						return nil, err
					}
					if gbk {
						if p, err = charset.DecodeGBK(p); err != nil {
							return nil, err
						}
					}
					var head struct {
						Head struct {
							Action string `json:"action"`
							Seq    int64  `json:"seq"`
						} `json:"head"`
					}
					json.Unmarshal(p, &head)
					if head.Head.Action == action+"Return" && head.Head.Seq == seq {
						return p, nil
					}
				}
			}
			action := args[0]
			if action != "login" && !noLogin {
				lb := map[string]any{"kind": kind}
				if cs != "" {
					lb["charset"] = cs
				}
				r, err := send("login", lb)
				if err != nil {
					return fmt.Errorf("login: %w", err)
				}
				var lr struct {
					Body struct {
						Exception string `json:"exception"`
					} `json:"body"`
				}
				json.Unmarshal(r, &lr)
				if lr.Body.Exception != "" {
					fmt.Fprintln(cmd.OutOrStdout(), string(r))
					return fmt.Errorf("login refused: %s", lr.Body.Exception)
				}
				gbk = strings.EqualFold(cs, "gbk")
			}
			r, err := send(action, body)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), string(r))
			var rr struct {
				Body struct {
					Exception string `json:"exception"`
				} `json:"body"`
			}
			json.Unmarshal(r, &rr)
			if rr.Body.Exception != "" {
				return fmt.Errorf("%s", rr.Body.Exception)
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
