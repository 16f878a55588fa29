package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/storebox/storebox/cmd/storebox/internal/localapi"
	"github.com/storebox/storebox/cmd/storebox/internal/report"
	"github.com/storebox/storebox/daemon/backup"
	"github.com/storebox/storebox/daemon/config"
	"github.com/storebox/storebox/daemon/store"
)

func backupCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "backup FILE",
		Short: "write a consistent backup of the store (data, admin token, remote and local configuration) to FILE, or - for stdout",
		Long: "Writes one archive (gzip tar with a SHA-256 manifest): the store file copied in one\n" +
			"read transaction, the data directory's other state and the configuration file.\n" +
			"With the daemon running it is made through the daemon, which keeps selling;\n" +
			"otherwise straight from the data directory. The archive is checked as it is\n" +
			"written; FILE appears only once it is whole. Restore it with `storebox restore`.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := g.loadConfig()
			if err != nil {
				return err
			}
			out, commit, abort, err := backupTarget(args[0], cmd.OutOrStdout())
			if err != nil {
				return err
			}
			m, err := makeBackup(cfg, out)
			if err != nil {
				abort()
				return err
			}
			if err := commit(); err != nil {
				return err
			}
			where := args[0]
			if where == "-" {
				where = "stdout"
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "backup of store %s written to %s: %s in %s (schema %d), checksums verified\n",
				m.StoreID, where, report.Bytes(m.Size()), report.Plural(len(m.Files), "file"), m.Schema)
			return nil
		},
	}
}

// backupTarget opens where the archive goes: stdout, or a temporary file
// renamed to path once the archive checked out.
func backupTarget(path string, stdout io.Writer) (w io.Writer, commit func() error, abort func(), err error) {
	if path == "-" {
		return stdout, func() error { return nil }, func() {}, nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".partial-*")
	if err != nil {
		return nil, nil, nil, fmt.Errorf("backup: %w", err)
	}
	commit = func() error {
		if err := tmp.Sync(); err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
			return fmt.Errorf("backup: %w", err)
		}
		if err := tmp.Close(); err != nil {
			os.Remove(tmp.Name())
			return fmt.Errorf("backup: %w", err)
		}
		if err := os.Rename(tmp.Name(), path); err != nil {
			os.Remove(tmp.Name())
			return fmt.Errorf("backup: %w", err)
		}
		return nil
	}
	abort = func() { tmp.Close(); os.Remove(tmp.Name()) }
	return tmp, commit, abort, nil
}

// makeBackup writes the archive to w through the running daemon, or from
// the data directory when none runs, and checks it on the way.
func makeBackup(cfg *config.Config, w io.Writer) (backup.Manifest, error) {
	api := localapi.New(cfg)
	if !api.Reachable() {
		m, err := backup.WriteStopped(w, backup.Source{DataDir: cfg.DataDir, ConfigPath: cfg.Path, StoreID: cfg.StoreID, Version: version})
		if errors.Is(err, store.ErrLocked) {
			return m, fmt.Errorf("%w, but its local API does not answer at the configured http.listen: check `storebox status`", err)
		}
		return m, err
	}
	if err := api.NeedToken(cfg); err != nil {
		return backup.Manifest{}, err
	}
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := api.Stream("GET", "/api/v1/backup", io.MultiWriter(w, pw))
		pw.CloseWithError(err)
		done <- err
	}()
	m, err := backup.Read(pr, nil)
	pr.CloseWithError(errors.New("backup read ended"))
	if serr := <-done; serr != nil && err == nil {
		err = serr
	}
	if err != nil {
		return m, fmt.Errorf("backup through the daemon: %w", err)
	}
	return m, nil
}

func restoreCommand(g *globals) *cobra.Command {
	var withConfig bool
	c := &cobra.Command{
		Use:   "restore FILE",
		Short: "restore a backup made by `storebox backup` into the data directory (daemon stopped)",
		Long: "Verifies the backup first (every checksum, the store file's consistency check, its\n" +
			"schema: a backup from a newer storebox is refused), then moves the current data\n" +
			"directory aside (<data_dir>.before-restore-<time>) and puts the backup in its place.\n" +
			"The restored store asks the cloud for the store's last ledger seq before it uploads\n" +
			"and numbers its unsent events above it. With --with-config the backup's configuration\n" +
			"file replaces this one (kept aside the same way); without it a backup of another\n" +
			"store_id is refused. FILE may be - for stdin.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := g.loadConfig()
			if err != nil {
				return err
			}
			var in io.Reader = cmd.InOrStdin()
			if args[0] != "-" {
				f, err := os.Open(args[0])
				if err != nil {
					return fmt.Errorf("restore: %w", err)
				}
				defer f.Close()
				in = f
			}
			if localapi.New(cfg).Reachable() {
				return backup.ErrRunning
			}
			cfgPath := cfg.Path
			if cfgPath == "" {
				cfgPath = g.configPath
			}
			if cfgPath == "" {
				cfgPath = config.DefaultConfigPath
			}
			check := func(b []byte) error {
				bc, err := config.Parse(cfgPath, b)
				if err != nil {
					return err
				}
				if filepath.Clean(bc.DataDir) != filepath.Clean(cfg.DataDir) {
					return fmt.Errorf("it keeps the data in %s, this box's configuration in %s: restore there (storebox restore --data-dir %s --with-config), or without --with-config", bc.DataDir, cfg.DataDir, bc.DataDir)
				}
				return nil
			}
			res, err := backup.Restore(in, backup.RestoreOptions{DataDir: cfg.DataDir, ConfigPath: cfgPath, WithConfig: withConfig, StoreID: cfg.StoreID, CheckConfig: check})
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			m := res.Manifest
			fmt.Fprintf(w, "restored store %s from the backup of %s (storebox %s, schema %d, %s) into %s\n",
				m.StoreID, m.CreatedAt.Format("2006-01-02 15:04:05Z"), m.Version, res.Schema, report.Bytes(m.Size()), cfg.DataDir)
			if res.Aside != "" {
				fmt.Fprintf(w, "the previous data directory is kept at %s\n", res.Aside)
			}
			if res.ConfigSet {
				fmt.Fprintf(w, "configuration restored to %s", cfgPath)
				if res.OldConfig != "" {
					fmt.Fprintf(w, " (the previous one is kept at %s)", res.OldConfig)
				}
				fmt.Fprintln(w)
			}
			fmt.Fprintln(w, "start storebox: before its first upload it asks the cloud for the store's last ledger seq and numbers its unsent events above it")
			return nil
		},
	}
	c.Flags().BoolVar(&withConfig, "with-config", false, "also restore the backup's configuration file")
	return c
}
