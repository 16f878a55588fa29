package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/storebox/storebox/cmd/storebox/internal/scaleread"
	"github.com/storebox/storebox/cmd/storebox/internal/simscale"
	"github.com/storebox/storebox/drivers/scale"
	"github.com/storebox/storebox/drivers/scale/scalesim"
	"github.com/storebox/storebox/internal/termtext"
	"github.com/storebox/storebox/protocol/scaleproto"
)

// scaleCommand is `storebox scale probe|read`.
func scaleCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "scale",
		Short: "find and read serial scales",
	}

	var protos []string
	var bauds []int
	var all bool
	var timeout time.Duration
	probe := &cobra.Command{
		Use:   "probe PORT",
		Short: "identify the scale protocol on a serial port by the scale's own answers",
		Long: "probe tries each protocol and baud rate on PORT and lists those the device\n" +
			"answered in that protocol's identifying way. Stop the daemon first if it\n" +
			"has the port open.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ps, err := scaleread.ParseProtocols(protos)
			if err != nil {
				return err
			}
			res, err := scale.Probe(cmd.Context(), args[0], scale.ProbeOptions{Protocols: ps, Bauds: bauds, Timeout: timeout, All: all})
			if err != nil {
				return fmt.Errorf("%w (check the path, permissions (dialout group) and that no other program has the port open)", err)
			}
			out := cmd.OutOrStdout()
			if len(res) == 0 {
				return fmt.Errorf("no scale answered on %s (check cable, power and the scale's serial settings)", args[0])
			}
			for _, r := range res {
				fmt.Fprintf(out, "%s\t%s", r.Protocol, r.Line)
				if r.Ident != "" {
					fmt.Fprintf(out, "\tident=%s", termtext.Safe(r.Ident))
				}
				if r.Reading != nil {
					fmt.Fprintf(out, "\t%s", termtext.Safe(fmt.Sprint(r.Reading)))
				}
				fmt.Fprintln(out)
			}
			return nil
		},
	}
	probe.Flags().StringSliceVar(&protos, "protocol", nil, "protocols to try (default all)")
	probe.Flags().IntSliceVar(&bauds, "baud", nil, "baud rates to try after each protocol's default (default 9600,4800,19200,2400)")
	probe.Flags().BoolVar(&all, "all", false, "keep trying after the first protocol that answers")
	probe.Flags().DurationVar(&timeout, "timeout", 0, "wait per attempt (default 400ms, 1.5s for streaming scales)")

	var rc scale.Config
	var watch bool
	var readTimeout time.Duration
	var verbose bool
	read := &cobra.Command{
		Use:   "read ID|PORT",
		Short: "read the weight from a configured scale (by id) or a port (with --protocol)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := scaleread.Target(g.loadConfig, args[0], rc, cmd.Flags().Changed("protocol"))
			if err != nil {
				return err
			}
			log := slog.New(slog.NewTextHandler(io.Discard, nil))
			if verbose {
				log = slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelDebug}))
			}
			s, err := scale.New(c, scale.Options{Log: log})
			if err != nil {
				return err
			}
			return scaleread.Read(cmd.Context(), cmd.OutOrStdout(), s, watch, readTimeout)
		},
	}
	read.Flags().StringVar(&rc.Protocol, "protocol", "auto", "protocol when reading a port: "+scaleread.ProtocolNames()+" or auto")
	read.Flags().IntVar(&rc.Baud, "baud", 0, "baud rate (default: the protocol's)")
	read.Flags().IntVar(&rc.DataBits, "data-bits", 0, "data bits (default: the protocol's)")
	read.Flags().StringVar(&rc.Parity, "parity", "", "none|even|odd (default: the protocol's)")
	read.Flags().IntVar(&rc.StopBits, "stop-bits", 0, "1|2 (default: the protocol's)")
	read.Flags().IntVar(&rc.PollMS, "poll-ms", 0, "poll period in ms (default: the protocol's)")
	read.Flags().BoolVar(&watch, "watch", false, "keep reading until interrupted, printing a line each time the weight or state changes")
	read.Flags().DurationVar(&readTimeout, "timeout", 10*time.Second, "give up when no weight arrives in this time")
	read.Flags().BoolVarP(&verbose, "verbose", "v", false, "log the driver's work to stderr")

	cmd.AddCommand(probe, read)
	return cmd
}

// simCommand is `storebox sim`, the parent of device simulators.
func simCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sim",
		Short: "simulate devices for tests and demos",
	}
	cmd.AddCommand(simScaleCommand(), simDoorCommand(g), simFleetCommand(), simPrinterCommand())
	return cmd
}

func simScaleCommand() *cobra.Command {
	var proto, link string
	var weight int64
	var opts scalesim.Options
	cmd := &cobra.Command{
		Use:   "scale --protocol P",
		Short: "simulate a serial scale on a pseudo-terminal",
		Long: "Creates a pty speaking protocol P and prints its path (or --link) on the\n" +
			"first line of stdout, then serves until interrupted. Lines on stdin change\n" +
			"the scale: a number sets grams; motion|stable|overload|underload|net|gross|\n" +
			"normal; silent|answer; garbage TEXT; split N; unplug; plug.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := scaleproto.ParseProtocol(proto)
			if err != nil {
				return err
			}
			sim, err := scalesim.New(p, opts)
			if err != nil {
				return err
			}
			defer sim.Close()
			if link != "" {
				if err := sim.Link(link); err != nil {
					return err
				}
				defer os.Remove(link)
			}
			sim.SetWeight(weight)
			fmt.Fprintln(cmd.OutOrStdout(), sim.Path())
			go simscale.Control(cmd.InOrStdin(), cmd.ErrOrStderr(), sim)
			return sim.Serve(cmd.Context())
		},
	}
	cmd.Flags().StringVar(&proto, "protocol", "", "protocol: "+scaleread.ProtocolNames())
	cmd.Flags().Int64Var(&weight, "weight", 0, "initial weight in grams")
	cmd.Flags().StringVar(&link, "link", "", "keep a symlink at this path pointing to the pty")
	cmd.Flags().BoolVar(&opts.Short, "short", false, "CAS continuous: send the 18-byte frame")
	cmd.Flags().DurationVar(&opts.Interval, "interval", 100*time.Millisecond, "CAS continuous: time between frames")
	cmd.Flags().IntVar(&opts.Baud, "pace-baud", 0, "pace output bytes as at this baud rate (0: as fast as possible)")
	_ = cmd.MarkFlagRequired("protocol")
	return cmd
}
