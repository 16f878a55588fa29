package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/storebox/storebox/sync/fleetsim"
)

// simFleetCommand is `storebox sim fleet`: many simulated stores against a
// cloud (see sync/fleetsim).
func simFleetCommand() *cobra.Command {
	var (
		opt      fleetsim.Options
		duration time.Duration
		report   time.Duration
		asJSON   bool
	)
	cmd := &cobra.Command{
		Use:   "fleet --stores N --cloud URL",
		Short: "simulate N stores' health, events and config polling against a cloud",
		Long: "Runs N lightweight simulated stores in this process, upstream side only: each PUTs a\n" +
			"signed health snapshot every --interval (and at once when an alert comes or goes),\n" +
			"posts a trickle of ledger events, and polls its desired configuration with\n" +
			"If-None-Match, checking the reply's signature and document as a daemon does.\n" +
			"Store ids are PREFIX0000, PREFIX0001, ...; the secret is the cloud's --secret\n" +
			"(or $STOREBOX_UPSTREAM_SECRET). Prints a line of figures every --report and at the end.\n\n" +
			"  storebox-cloud --secret s3cret --health-interval 10s &\n" +
			"  storebox sim fleet --stores 2000 --cloud http://127.0.0.1:8700 --secret s3cret --interval 10s",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opt.Secret == "" {
				opt.Secret = os.Getenv("STOREBOX_UPSTREAM_SECRET")
			}
			sim, err := fleetsim.New(opt)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if duration > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, duration)
				defer cancel()
			}
			out := cmd.OutOrStdout()
			if report > 0 {
				go sim.Report(ctx, report, cmd.ErrOrStderr())
			}
			sim.Run(ctx)
			st := sim.Stats()
			if asJSON {
				return json.NewEncoder(out).Encode(st)
			}
			fmt.Fprintln(out, st)
			if st.LastError != "" {
				fmt.Fprintln(out, "last error:", st.LastError)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&opt.Stores, "stores", 10, "number of simulated stores")
	f.StringVar(&opt.Cloud, "cloud", "", "the cloud's base URL, e.g. http://127.0.0.1:8700")
	f.StringVar(&opt.Secret, "secret", "", "the stores' upstream.secret (default $STOREBOX_UPSTREAM_SECRET)")
	f.DurationVar(&opt.HealthInterval, "interval", 60*time.Second, "health interval (fleet.health_interval)")
	f.DurationVar(&opt.ConfigInterval, "config-interval", 0, "desired-configuration poll interval (default: --interval)")
	f.DurationVar(&opt.EventInterval, "event-interval", 30*time.Second, "one small event batch per store this often (0: none)")
	f.Float64Var(&opt.AlertRate, "alert-rate", 0.02, "chance per health tick that a store raises or clears an alert")
	f.StringVar(&opt.Prefix, "prefix", "sim-", "store id prefix")
	f.StringVar(&opt.Version, "report-version", version, "daemon version the stores report")
	f.DurationVar(&duration, "duration", 0, "stop after this long (default: until interrupted)")
	f.DurationVar(&report, "report", 10*time.Second, "print figures to stderr this often (0: only at the end)")
	f.BoolVar(&asJSON, "json", false, "print the final figures as JSON")
	_ = cmd.MarkFlagRequired("cloud")
	return cmd
}
