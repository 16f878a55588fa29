package main

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

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
			api := newLocalAPI(cfg)
			if !direct && api.reachable() {
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
				if err := api.do("POST", "/api/v1/catalog?"+q.Encode(), f, &res); err != nil {
					return fmt.Errorf("import %s: %w", args[0], err)
				}
				printImport(out, res, "through the running daemon")
				return nil
			}
			st, err := store.Open(cfg.DataDir, store.Options{Warehouse: cfg.Warehouse})
			if err != nil {
				return fmt.Errorf("import %s: %w (nothing was changed)", args[0], err)
			}
			defer st.Close()
			var progress func(int)
			if term.IsTerminal(int(os.Stderr.Fd())) {
				bar := progressbar.NewOptions(-1, progressbar.OptionSetWriter(os.Stderr), progressbar.OptionSetDescription("importing"), progressbar.OptionShowCount())
				defer bar.Finish()
				progress = func(n int) { bar.Set(n) }
			} else {
				progress = func(n int) {
					if n%100000 == 0 {
						fmt.Fprintf(os.Stderr, "imported %d rows\n", n)
					}
				}
			}
			res, err := catalog.ImportFile(st, args[0], store.ImportOptions{Replace: replace, SetStock: setStock, Progress: progress})
			if err != nil {
				return fmt.Errorf("import %s: %w (nothing was changed)", args[0], err)
			}
			printImport(out, res, "into "+st.Path())
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
			if api := newLocalAPI(cfg); api.reachable() {
				return api.stream("GET", "/api/v1/catalog?format="+url.QueryEscape(format), cmd.OutOrStdout())
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

func printImport(w interface{ Write([]byte) (int, error) }, r store.ImportResult, where string) {
	fmt.Fprintf(w, "imported %s %s: %d created, %d updated, %d unchanged, %d deleted; stock set for %d",
		plural(r.Rows, "row"), where, r.Created, r.Updated, r.Unchanged, r.Deleted, r.StockSet)
	if r.StockKept > 0 {
		fmt.Fprintf(w, ", kept the store's own for %d (--set-stock overwrites it)", r.StockKept)
	}
	fmt.Fprintln(w)
}
