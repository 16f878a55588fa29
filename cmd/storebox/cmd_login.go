package main

import (
	"fmt"
	"net"
	"net/url"
	"time"

	"github.com/skip2/go-qrcode"
	"github.com/spf13/cobra"
	"github.com/storebox/storebox/cmd/storebox/internal/localapi"
)

// loginLinkCommand is `storebox login-link`: a one-time link (and its QR
// code) that signs a phone in to the status page without typing the admin
// token (POST /api/v1/login-links).
func loginLinkCommand(g *globals) *cobra.Command {
	var host string
	var noQR bool
	c := &cobra.Command{
		Use:   "login-link",
		Short: "print a one-time link and QR code that signs a phone in to the status page",
		Long: `Asks the running daemon for a sign-in link for its status page and prints
it with a QR code to scan. The link works once, within 5 minutes, and gives
the browser that opens it a 12-hour session. The link's host is the box's
LAN address (http.listen's host, or the first non-loopback IPv4 address);
--host picks another one the phone can reach.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.loadConfig()
			if err != nil {
				return err
			}
			api := localapi.New(cfg)
			if err := api.NeedToken(cfg); err != nil {
				return err
			}
			var link struct {
				URL       string    `json:"url"`
				ExpiresAt time.Time `json:"expires_at"`
			}
			if err := api.Do("POST", "/api/v1/login-links", nil, &link); err != nil {
				return err
			}
			if host != "" {
				u, err := url.Parse(link.URL)
				if err != nil {
					return fmt.Errorf("link from the daemon: %w", err)
				}
				u.Host = net.JoinHostPort(host, u.Port())
				link.URL = u.String()
			}
			out := cmd.OutOrStdout()
			if !noQR {
				qr, err := qrcode.New(link.URL, qrcode.Medium)
				if err != nil {
					return fmt.Errorf("QR code: %w", err)
				}
				fmt.Fprint(out, qr.ToSmallString(false))
			}
			fmt.Fprintln(out, link.URL)
			fmt.Fprintf(out, "Works once, until %s (5 minutes).\n", link.ExpiresAt.Local().Format("15:04:05"))
			return nil
		},
	}
	c.Flags().StringVar(&host, "host", "", "host or address to put in the link instead of the box's LAN address")
	c.Flags().BoolVar(&noQR, "no-qr", false, "print only the link")
	return c
}
