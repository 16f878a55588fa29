// Package catalog imports and exports catalog files against the store.
package catalog

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/storebox/storebox/daemon/store"
	"github.com/storebox/storebox/protocol/catalogfile"
)

// ImportReader imports a catalog from r (format detected from name and the
// first bytes unless given) all or nothing.
func ImportReader(st *store.Store, r io.Reader, name string, format string, opts store.ImportOptions) (store.ImportResult, error) {
	br := bufio.NewReaderSize(r, 256<<10)
	var f catalogfile.Format
	if format != "" {
		var err error
		if f, err = catalogfile.ParseFormat(format); err != nil {
			return store.ImportResult{}, err
		}
	} else {
		head, _ := br.Peek(4096)
		f = catalogfile.DetectFormat(name, head)
	}
	wh := st.Warehouse()
	opts.Source = filepath.Base(name)
	return st.Import(func(yield func(store.ImportRow) error) error {
		return catalogfile.Read(br, f, wh, func(row catalogfile.Row) error {
			return yield(store.ImportRow{Line: row.Line, Goods: row.Goods, Stock: row.Stock, HasStock: row.HasStock})
		})
	}, opts)
}

// ImportFile imports the catalog file at path.
func ImportFile(st *store.Store, path string, opts store.ImportOptions) (store.ImportResult, error) {
	f, err := os.Open(path)
	if err != nil {
		return store.ImportResult{}, fmt.Errorf("open catalog: %w", err)
	}
	defer f.Close()
	return ImportReader(st, f, path, "", opts)
}

// Export writes the whole catalog with per-warehouse on-hand stock, in a
// form Import reads back unchanged.
func Export(st *store.Store, w io.Writer, format string) error {
	f, err := catalogfile.ParseFormat(format)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 256<<10)
	cw := catalogfile.NewWriter(bw, f)
	err = st.ForEachGoods(func(g store.ExportGoods) error {
		return cw.Write(g.Goods, g.OnHand)
	})
	if err != nil {
		return err
	}
	if err := cw.Flush(); err != nil {
		return err
	}
	return bw.Flush()
}
