package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/storebox/storebox/cmd/storebox/internal/report"
	"github.com/storebox/storebox/daemon/doctor"
	"github.com/storebox/storebox/internal/buildinfo"
)

func doctorCommand(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "check the installation: config, data directory, ports, scales, cloud, discovery",
		Long: `doctor checks what a store needs and prints one line per check:

  ok|warn|fail  <check>: <what was found> — <what to do>

Checks: the config; whether the daemon runs; the data directory is writable
and has free space (warn under 1 GB, fail under 100 MB); every listener's
port can be bound or is held by the running storebox; each configured
scale's serial port exists with read/write permission and the scale answers
its probe (skipped while the daemon holds the port); the cloud answers a
signed request and the clock is within 5 minutes of it; UDP discovery
answers on this machine and mDNS advertises the store.

It exits non-zero when any check fails.`,
		Example: `  storebox doctor
  storebox doctor --config /etc/storebox/storebox.toml
  sudo -u storebox storebox doctor   # check as the service user`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var results []doctor.Result
			cfg, err := g.loadConfig()
			if err != nil {
				results = []doctor.Result{doctor.ConfigError(err)}
			} else {
				built, _ := buildinfo.Built(buildTime)
				results = doctor.RunWith(cmd.Context(), cfg, doctor.Options{Built: built})
			}
			out := cmd.OutOrStdout()
			fails, warns, err := report.Doctor(out, results, asJSON)
			if err != nil {
				return err
			}
			if fails > 0 {
				return fmt.Errorf("doctor: %d check(s) failed, %d warning(s); fix the lines marked fail", fails, warns)
			}
			if !asJSON {
				fmt.Fprintf(out, "\n%d checks, %d warning(s), none failed\n", len(results), warns)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the results as JSON")
	return cmd
}
