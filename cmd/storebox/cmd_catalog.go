package main

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/storebox/storebox/cmd/storebox/internal/datadir"
	"github.com/storebox/storebox/cmd/storebox/internal/localapi"
	"github.com/storebox/storebox/cmd/storebox/internal/report"
	"github.com/storebox/storebox/daemon/catalog"
	"github.com/storebox/storebox/daemon/store"
	"github.com/storebox/storebox/protocol/catalogfile"
)

func catalogCommand(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "catalog", Short: "import and export the catalog"}
	var replace, setStock, direct bool
	imp := &cobra.Command{
		Use:   "import FILE",
		Short: "import a CSV or JSON Lines catalog, all or nothing (through the daemon when it runs)",
		Long: `Imports a catalog file in one transaction: a bad row changes nothing and is
named by line and column. Goods are created or updated; with --replace, goods
missing from the file are deleted.

The file's stock column sets the on-hand quantity of goods the store has no
stock for yet (new goods). Stock the store already keeps — received and sold
since — is left as it is unless --set-stock is given; the summary counts the
rows whose stock was set and those whose different stock was kept.

The import goes through the running daemon when one answers on the config's
http.listen, else straight into the data directory. --direct always writes
into the data directory and fails if a daemon has it open.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := g.loadConfig()
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			api := localapi.New(cfg)
			if !direct && api.Reachable() {
				f, err := os.Open(args[0])
				if err != nil {
					return err
				}
				defer f.Close()
				var res store.ImportResult
				q := url.Values{"name": {filepath.Base(args[0])}}
				if replace {
					q.Set("replace", "1")
				}
				if setStock {
					q.Set("set_stock", "1")
				}
				if err := api.Do("POST", "/api/v1/catalog?"+q.Encode(), f, &res); err != nil {
					return fmt.Errorf("import %s: %w", args[0], err)
				}
				report.Import(out, res, "through the running daemon")
				return nil
			}
			res, where, err := datadir.ImportCatalog(cfg, args[0], store.ImportOptions{Replace: replace, SetStock: setStock})
			if err != nil {
				return err
			}
			report.Import(out, res, where)
			return nil
		},
	}
	imp.Flags().BoolVar(&replace, "replace", false, "delete goods that are not in the file")
	imp.Flags().BoolVar(&setStock, "set-stock", false, "let the file's stock overwrite the stock the store keeps (a stock count)")
	imp.Flags().BoolVar(&direct, "direct", false, "write into the data directory, never through a running daemon")
	var format string
	exp := &cobra.Command{
		Use:   "export",
		Short: "write the catalog to stdout (csv or jsonl)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, err := catalogfile.ParseFormat(format); err != nil {
				return err
			}
			cfg, err := g.loadConfig()
			if err != nil {
				return err
			}
			if api := localapi.New(cfg); api.Reachable() {
				return api.Stream("GET", "/api/v1/catalog?format="+url.QueryEscape(format), cmd.OutOrStdout())
			}
			st, err := store.Open(cfg.DataDir, store.Options{Warehouse: cfg.Warehouse})
			if err != nil {
				return err
			}
			defer st.Close()
			return catalog.Export(st, cmd.OutOrStdout(), format)
		},
	}
	exp.Flags().StringVar(&format, "format", "csv", "csv or jsonl")
	c.AddCommand(imp, exp)
	return c
}
