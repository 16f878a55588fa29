package catalogfile

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/storebox/storebox/protocol/goods"
)

// Writer writes a catalog file. Write checks each goods the way Read does
// and writes its canonical form, so the output imports back unchanged; a
// goods Read would reject is refused with a *RowError whose Line is the
// line the goods would have had in the output. Flush must be called at the
// end (a CSV file with no goods still gets its header). Not safe for
// concurrent use.
type Writer interface {
	Write(g goods.Goods, stock map[string]int64) error
	Flush() error
}

// NewWriter returns a Writer for format. For an unknown format every call
// fails.
func NewWriter(w io.Writer, format Format) Writer {
	switch format {
	case FormatCSV:
		return newCSVWriter(w)
	case FormatJSONL:
		return newJSONLWriter(w)
	}
	return failWriter{fmt.Errorf("write catalog: format %v: want csv or jsonl", format)}
}

type failWriter struct{ err error }

func (f failWriter) Write(goods.Goods, map[string]int64) error { return f.err }
func (f failWriter) Flush() error                              { return f.err }

// checkForWrite normalizes g and *stock in place (the caller passes copies
// of any slices) and checks uniqueness against earlier goods.
func checkForWrite(g *goods.Goods, stock *map[string]int64, uniq *uniques, n int, format Format) error {
	ferr := normalizeGoods(g)
	if ferr == nil {
		*stock, ferr = normalizeStock(*stock)
	}
	if ferr == nil {
		ferr = uniq.checkUnique(g, n)
	}
	if ferr != nil {
		return &RowError{Format: format, Line: n, Column: ferr.field,
			Err: fmt.Errorf("cannot write goods %q: %w", g.GID, ferr.err)}
	}
	return nil
}

func slicesClone(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return slices.Clone(s)
}

func appendInt(b []byte, n int64) []byte { return strconv.AppendInt(b, n, 10) }

// formatStockCell writes "WH:qty|WH:qty" sorted by warehouse.
func formatStockCell(stock map[string]int64) string {
	if len(stock) == 0 {
		return ""
	}
	if len(stock) == 1 {
		for wh, q := range stock {
			return wh + ":" + strconv.FormatInt(q, 10)
		}
	}
	var b strings.Builder
	for i, wh := range slices.Sorted(maps.Keys(stock)) {
		if i > 0 {
			b.WriteByte('|')
		}
		b.WriteString(wh)
		b.WriteByte(':')
		b.WriteString(strconv.FormatInt(stock[wh], 10))
	}
	return b.String()
}
