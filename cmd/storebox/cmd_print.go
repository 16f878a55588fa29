package main

import (
	"fmt"
	"net/url"
	"sync"

	"github.com/spf13/cobra"

	"github.com/storebox/storebox/cmd/storebox/internal/localapi"
	"github.com/storebox/storebox/drivers/printer"
	"github.com/storebox/storebox/drivers/printer/printersim"
)

// printCommand is `storebox print`: test pages and copies of receipts on
// the running daemon's printers.
func printCommand(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "print",
		Short: "print a test page or a copy of a receipt on a receipt printer",
	}
	post := func(path string) ([]string, error) {
		cfg, err := g.loadConfig()
		if err != nil {
			return nil, err
		}
		api := localapi.New(cfg)
		if err := api.NeedToken(cfg); err != nil {
			return nil, err
		}
		var resp struct {
			Queued []string `json:"queued"`
		}
		if err := api.Do("POST", path, nil, &resp); err != nil {
			return nil, err
		}
		return resp.Queued, nil
	}
	test := &cobra.Command{
		Use:   "test ID",
		Short: "print a test page on printer ID (code page, width ruler, CJK and accents)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := post("/api/v1/printers/" + url.PathEscape(args[0]) + "/test"); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "test page queued on %s\n", args[0])
			return nil
		},
	}
	var printerID string
	reprint := &cobra.Command{
		Use:   "reprint OID [--printer ID]",
		Short: "print a paid order's receipt again, marked COPY (on its terminal's printers unless --printer)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := "/api/v1/orders/" + url.PathEscape(args[0]) + "/reprint"
			if printerID != "" {
				path += "?printer=" + url.QueryEscape(printerID)
			}
			ids, err := post(path)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "copy of %s queued on %v\n", args[0], ids)
			return nil
		},
	}
	reprint.Flags().StringVar(&printerID, "printer", "", "printer id (default: the printers of the order's terminal)")
	c.AddCommand(test, reprint)
	return c
}

// simPrinterCommand is `storebox sim printer`: an ESC/POS printer that
// prints what it receives as text.
func simPrinterCommand() *cobra.Command {
	var listen, codepage string
	var paperOut, serial bool
	var pace int
	cmd := &cobra.Command{
		Use:   "printer [--listen :9100] [--serial]",
		Short: "simulate an ESC/POS receipt printer: print received receipts as text, answer DLE EOT",
		Long: "Listens like a network receipt printer (or, with --serial, on a pseudo-terminal\n" +
			"whose path it prints) and writes each receipt it receives to stdout as text, with\n" +
			"its QR codes, drawer kicks and cut. It answers DLE EOT status queries. The first\n" +
			"line of stdout is the address (or pty path). Lines on stdin change the printer:\n" +
			"  " + printersim.ControlHelp + "\n" +
			"SIGUSR1 toggles the paper (out/in).\n\n" +
			"  storebox sim printer --listen 127.0.0.1:9100 &\n" +
			"  # [[printers]] connect = \"tcp://127.0.0.1:9100\"; then: storebox print test ID",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			enc, err := printer.Encoding(codepage)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			var mu sync.Mutex
			n := 0
			sim := printersim.New(enc)
			sim.OnReceipt = func(r printersim.Receipt) {
				mu.Lock()
				defer mu.Unlock()
				n++
				fmt.Fprintf(out, "=== receipt %d ===\n%s", n, r.Text())
			}
			sim.OnDrawer = func() {
				mu.Lock()
				defer mu.Unlock()
				fmt.Fprintln(out, "[drawer kicked]")
			}
			sim.SetPaper(!paperOut)
			sim.SetPace(pace)
			if serial {
				path, stop, err := sim.ServePTY()
				if err != nil {
					return err
				}
				defer stop()
				fmt.Fprintln(out, path)
			} else {
				if err := sim.Listen(listen); err != nil {
					return fmt.Errorf("listen %s: %w", listen, err)
				}
				fmt.Fprintln(out, sim.Addr())
			}
			go printersim.Control(cmd.InOrStdin(), cmd.ErrOrStderr(), sim)
			togglePaperOnSignal(sim, cmd.ErrOrStderr())
			if serial {
				<-cmd.Context().Done()
				return nil
			}
			return sim.Serve(cmd.Context())
		},
	}
	cmd.Flags().StringVar(&listen, "listen", ":9100", "address to listen on")
	cmd.Flags().StringVar(&codepage, "codepage", printer.DefaultCodepage, "code page the printer is set to")
	cmd.Flags().BoolVar(&paperOut, "paper-out", false, "start without paper")
	cmd.Flags().IntVar(&pace, "pace", 0, "take this many bytes a second, like a slow printer (0: as fast as they come)")
	cmd.Flags().BoolVar(&serial, "serial", false, "be a serial printer on a pseudo-terminal instead of listening")
	return cmd
}
