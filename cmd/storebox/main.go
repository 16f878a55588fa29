// Command storebox is the store daemon and its technician CLI.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/storebox/storebox/daemon/config"
	"github.com/storebox/storebox/daemon/servicectl"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

// globals are the flags every subcommand accepts.
type globals struct {
	configPath string
	dataDir    string
}

// loadConfig finds the config the way SPEC §1 says: --config, else the
// installed default when it exists, else embedded defaults; --data-dir wins.
// Without --config it then follows the data directory's run record: a
// daemon started by hand (`make run` with packaging/demo.toml) leaves the
// path of its config there, so `storebox doctor`, `devices`, `client`…
// run from the same place talk about the same store.
func (g *globals) loadConfig() (*config.Config, error) {
	c, err := g.loadOwnConfig()
	if err != nil || g.configPath != "" {
		return c, err
	}
	rec, ok := readRunRecord(c.DataDir)
	if !ok || rec.Config == "" || sameFile(rec.Config, c.Path) {
		return c, nil
	}
	if _, err := os.Stat(rec.Config); errors.Is(err, fs.ErrNotExist) {
		return c, nil // a demo config removed since: nothing to follow
	}
	rc, err := config.Load(rec.Config)
	if err != nil {
		return nil, fmt.Errorf("the config the daemon last ran with (recorded in %s): %w", filepath.Join(c.DataDir, runRecordFile), err)
	}
	rc.DataDir = c.DataDir // the record was found there, whatever data_dir the file says
	return rc, nil
}

// loadOwnConfig is loadConfig without the run record: what `storebox run`
// uses, so a daemon never starts on another run's configuration.
func (g *globals) loadOwnConfig() (*config.Config, error) {
	path := g.configPath
	if path == "" {
		if _, err := os.Stat(config.DefaultConfigPath); err == nil {
			path = config.DefaultConfigPath
		}
	}
	c, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	if g.dataDir != "" {
		c.DataDir = g.dataDir
	}
	return c, nil
}

// runRecordFile, in the data directory, names the config file the daemon
// last ran with.
const runRecordFile = "run.json"

type runRecord struct {
	Config string `json:"config"` // absolute path; "" for the embedded defaults
}

// writeRunRecord notes cfg's file in its data directory for the CLI.
func writeRunRecord(cfg *config.Config) error {
	rec := runRecord{}
	if cfg.Path != "" {
		abs, err := filepath.Abs(cfg.Path)
		if err != nil {
			return err
		}
		rec.Config = abs
	}
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return err
	}
	b, _ := json.Marshal(rec)
	tmp := filepath.Join(cfg.DataDir, runRecordFile+".tmp")
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(cfg.DataDir, runRecordFile))
}

func readRunRecord(dataDir string) (runRecord, bool) {
	var rec runRecord
	b, err := os.ReadFile(filepath.Join(dataDir, runRecordFile))
	if err != nil || json.Unmarshal(b, &rec) != nil {
		return rec, false
	}
	return rec, true
}

func sameFile(a, b string) bool {
	if a == "" || b == "" {
		return a == b
	}
	fa, err1 := os.Stat(a)
	fb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(fa, fb)
}

func rootCommand() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:           "storebox",
		Short:         "storebox: the store's local daemon and technician tools",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&g.configPath, "config", "", "config file (default "+config.DefaultConfigPath+" when present)")
	root.PersistentFlags().StringVar(&g.dataDir, "data-dir", "", "data directory (overrides data_dir)")
	for _, c := range subcommands(g) {
		root.AddCommand(c)
	}
	return root
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := rootCommand().ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "storebox:", err)
		// 78 for config errors: the unit does not restart those.
		os.Exit(servicectl.ExitCode(err))
	}
}
