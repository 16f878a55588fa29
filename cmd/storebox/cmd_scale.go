package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/storebox/storebox/daemon/config"
	"github.com/storebox/storebox/drivers/scale"
	"github.com/storebox/storebox/drivers/scale/scalesim"
	"github.com/storebox/storebox/protocol/scaleproto"
)

// scaleConfig maps a [[scales]] entry onto the driver's config.
func scaleConfig(c config.Scale) scale.Config {
	return scale.Config{
		ID: c.ID, Port: c.Port, Protocol: c.Protocol,
		Baud: c.Baud, DataBits: c.DataBits, Parity: c.Parity, StopBits: c.StopBits, PollMS: c.PollMS,
	}
}

func parseProtocols(names []string) ([]scaleproto.Protocol, error) {
	var out []scaleproto.Protocol
	for _, n := range names {
		for _, part := range strings.Split(n, ",") {
			if part == "" || strings.EqualFold(part, scale.Auto) {
				continue
			}
			p, err := scaleproto.ParseProtocol(part)
			if err != nil {
				return nil, err
			}
			out = append(out, p)
		}
	}
	return out, nil
}

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
			ps, err := parseProtocols(protos)
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
					fmt.Fprintf(out, "\tident=%s", r.Ident)
				}
				if r.Reading != nil {
					fmt.Fprintf(out, "\t%s", r.Reading)
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
			c, err := readTarget(g, args[0], rc, cmd.Flags().Changed("protocol"))
			if err != nil {
				return err
			}
			// A port that is not there will not appear by waiting; say so
			// now instead of after the whole --timeout.
			if _, err := os.Stat(c.Port); errors.Is(err, fs.ErrNotExist) {
				where := c.Port
				if c.ID != c.Port {
					where = "scale " + c.ID + ": port " + c.Port
				}
				return fmt.Errorf("%s does not exist (plugged in? ls /dev/serial/by-id/)", where)
			}
			log := slog.New(slog.NewTextHandler(io.Discard, nil))
			if verbose {
				log = slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelDebug}))
			}
			s, err := scale.New(c, scale.Options{Log: log})
			if err != nil {
				return err
			}
			return readScale(cmd.Context(), cmd.OutOrStdout(), s, watch, readTimeout)
		},
	}
	read.Flags().StringVar(&rc.Protocol, "protocol", "auto", "protocol when reading a port: "+protocolNames()+" or auto")
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

func protocolNames() string {
	names := make([]string, len(scaleproto.Protocols))
	for i, p := range scaleproto.Protocols {
		names[i] = string(p)
	}
	return strings.Join(names, ", ")
}

// readTarget resolves ID|PORT: a configured scale id wins; otherwise the
// argument is a port path read with the flags.
func readTarget(g *globals, arg string, flags scale.Config, protocolSet bool) (scale.Config, error) {
	if !strings.ContainsRune(arg, os.PathSeparator) && !strings.HasPrefix(strings.ToUpper(arg), "COM") {
		cfg, err := g.loadConfig()
		if err != nil {
			return scale.Config{}, err
		}
		for _, sc := range cfg.Scales {
			if sc.ID == arg {
				c := scaleConfig(sc)
				if protocolSet {
					c.Protocol = flags.Protocol
				}
				return c, nil
			}
		}
		ids := make([]string, 0, len(cfg.Scales))
		for _, sc := range cfg.Scales {
			ids = append(ids, sc.ID)
		}
		if len(ids) == 0 {
			return scale.Config{}, fmt.Errorf("no scale %q: the config has no [[scales]]; give a port path such as /dev/ttyUSB0", arg)
		}
		return scale.Config{}, fmt.Errorf("no scale %q in the config (configured: %s); or give a port path", arg, strings.Join(ids, ", "))
	}
	c := flags
	c.ID, c.Port = arg, arg
	return c, nil
}

// readScale runs the driver until the first weight (or, with watch, until
// ctx ends), printing each reading.
func readScale(ctx context.Context, out io.Writer, s *scale.Scale, watch bool, timeout time.Duration) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sub, unsub := s.Subscribe()
	defer unsub()
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	defer func() { cancel(); <-done }()

	var deadline <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		deadline = t.C
	}
	var last string
	var lastErr error
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-deadline:
			if watch && last != "" {
				deadline = nil
				continue
			}
			_, st, err := s.Latest()
			if lastErr != nil {
				err = lastErr
			}
			return fmt.Errorf("no weight from %s within %s (state %s: %v)", s.ID(), timeout, st, err)
		case u := <-sub:
			line := formatUpdate(u, s.Protocol())
			if u.Err != nil && !errors.Is(u.Err, scale.ErrNoWeight) {
				lastErr = u.Err
				if !watch {
					continue // keep trying until the timeout
				}
			}
			// A poll that reads the same weight is not a change: compare
			// without the time of reading.
			if key := formatUpdate(scale.Update{ID: u.ID, State: u.State, Err: u.Err, Reading: readingWithoutTime(u.Reading)}, s.Protocol()); key != last {
				fmt.Fprintln(out, line)
				last = key
			}
			if !watch && u.Err == nil {
				return nil
			}
		}
	}
}

func readingWithoutTime(r scaleproto.Reading) scaleproto.Reading {
	r.At = time.Time{}
	return r
}

func formatUpdate(u scale.Update, p scaleproto.Protocol) string {
	at := u.Reading.At.Format(time.RFC3339Nano)
	if u.Err != nil {
		return fmt.Sprintf("%s\t%s\t%s\t%v", u.ID, p, u.State, u.Err)
	}
	return fmt.Sprintf("%s\t%s\t%s\t%s\t%s", u.ID, p, u.State, u.Reading, at)
}

// simCommand is `storebox sim`, the parent of device simulators.
func simCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sim",
		Short: "simulate devices for tests and demos",
	}
	cmd.AddCommand(simScaleCommand(), simDoorCommand(g), simFleetCommand())
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
			go simControl(cmd.InOrStdin(), cmd.ErrOrStderr(), sim)
			return sim.Serve(cmd.Context())
		},
	}
	cmd.Flags().StringVar(&proto, "protocol", "", "protocol: "+protocolNames())
	cmd.Flags().Int64Var(&weight, "weight", 0, "initial weight in grams")
	cmd.Flags().StringVar(&link, "link", "", "keep a symlink at this path pointing to the pty")
	cmd.Flags().BoolVar(&opts.Short, "short", false, "CAS continuous: send the 18-byte frame")
	cmd.Flags().DurationVar(&opts.Interval, "interval", 100*time.Millisecond, "CAS continuous: time between frames")
	cmd.Flags().IntVar(&opts.Baud, "pace-baud", 0, "pace output bytes as at this baud rate (0: as fast as possible)")
	_ = cmd.MarkFlagRequired("protocol")
	return cmd
}

// simControl applies commands typed on stdin; EOF leaves the scale as it is.
func simControl(in io.Reader, errw io.Writer, sim *scalesim.Sim) {
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if g, err := strconv.ParseInt(f[0], 10, 64); err == nil {
			sim.SetWeight(g)
			continue
		}
		var err error
		switch f[0] {
		case "motion":
			sim.SetMotion(true)
		case "stable":
			sim.SetMotion(false)
		case "overload":
			sim.SetOverload(true)
		case "underload":
			sim.SetUnderload(true)
		case "normal":
			sim.SetOverload(false)
			sim.SetUnderload(false)
			sim.SetMotion(false)
		case "net":
			sim.SetNet(true)
		case "gross":
			sim.SetNet(false)
		case "silent":
			sim.SetSilent(true)
		case "answer":
			sim.SetSilent(false)
		case "badbcc":
			sim.SetBadBCC(true)
		case "goodbcc":
			sim.SetBadBCC(false)
		case "garbage":
			sim.InjectGarbage([]byte(strings.TrimPrefix(sc.Text(), "garbage ")))
		case "split":
			n := 3
			if len(f) > 1 {
				n, _ = strconv.Atoi(f[1])
			}
			sim.SetSplit(n, 5*time.Millisecond)
		case "unplug":
			err = sim.Unplug()
		case "plug":
			err = sim.Plug()
		default:
			err = fmt.Errorf("unknown command %q", f[0])
		}
		if err != nil {
			fmt.Fprintln(errw, "sim:", err)
		}
	}
}
