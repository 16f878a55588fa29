package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"go.etcd.io/bbolt"

	"github.com/storebox/storebox/cmd/storebox/internal/localapi"
	"github.com/storebox/storebox/cmd/storebox/internal/report"
	"github.com/storebox/storebox/daemon/config"
	"github.com/storebox/storebox/daemon/orders"
	"github.com/storebox/storebox/daemon/store"
	"github.com/storebox/storebox/daemon/store/datafile"
)

func dataCommand(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "data",
		Short: "the store file: its size and contents, compaction (daemon stopped)",
	}
	c.AddCommand(dataStatsCommand(g), dataCompactCommand(g))
	return c
}

// errDaemonRunning is the answer of data commands while the daemon has the file.
func errDaemonRunning(cfg *config.Config, what string) error {
	return fmt.Errorf("%s: storebox is running on %s; stop it first (systemctl stop storebox), then run this again", what, cfg.DataDir)
}

func dataStatsCommand(g *globals) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "stats",
		Short: "print the store file's size, free share, keys per bucket and orders per state and age",
		Long: "Reads the store file directly, so the daemon must be stopped (bbolt lets one\n" +
			"process at a time open it).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.loadConfig()
			if err != nil {
				return err
			}
			if localapi.New(cfg).Reachable() {
				return errDaemonRunning(cfg, "data stats")
			}
			var s report.DataStats
			s.File, err = datafile.Read(filepath.Join(cfg.DataDir, store.FileName), func(tx *bbolt.Tx) (err error) {
				s.OrdersByState, s.OrdersByAge, err = orders.Stored(tx, time.Now())
				return err
			})
			if errors.Is(err, datafile.ErrInUse) {
				return errDaemonRunning(cfg, "data stats")
			}
			if err != nil {
				return err
			}
			s.FreeShare = s.File.FreeShare()
			if asJSON {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(s)
			}
			report.Data(cmd.OutOrStdout(), s)
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

func dataCompactCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "compact",
		Short: "rewrite the store file without its free pages (bbolt's compaction); daemon stopped",
		Long: "A bbolt file never shrinks by itself: pages freed by removed orders are reused,\n" +
			"not given back. This copies every bucket into a new file and replaces the old\n" +
			"one once the copy is complete; the daemon must be stopped. The daemon also\n" +
			"compacts at start when the file is over 64 MB and more than half of it is free.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.loadConfig()
			if err != nil {
				return err
			}
			if localapi.New(cfg).Reachable() {
				return errDaemonRunning(cfg, "data compact")
			}
			res, err := datafile.Compact(filepath.Join(cfg.DataDir, store.FileName))
			if errors.Is(err, datafile.ErrInUse) {
				return errDaemonRunning(cfg, "data compact")
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "compacted %s: %s → %s in %s\n", filepath.Join(cfg.DataDir, store.FileName),
				report.MB(res.Before), report.MB(res.After), res.Took.Round(time.Millisecond))
			return nil
		},
	}
}
