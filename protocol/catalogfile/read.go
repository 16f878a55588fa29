package catalogfile

import (
	"fmt"
	"hash/maphash"
	"io"

	"github.com/storebox/storebox/protocol/goods"
)

// Row is one goods line of a catalog file.
type Row struct {
	Line  int         // 1-based line where the row starts
	Goods goods.Goods // canonical form; Goods.Stock is unused (0)
	// Stock is the on-hand quantity per warehouse the row names (pieces, or
	// grams for kg goods). Nil when HasStock is false.
	Stock    map[string]int64
	HasStock bool
}

// Read parses a catalog file and calls fn for each row in file order. It
// stops at the first bad row and returns a *RowError, or at the first error
// from fn, returned wrapped with the row's line. defaultWarehouse is the
// selling warehouse a bare stock quantity goes to; with "" a bare quantity
// is an error.
//
// Rows already passed to fn before an error stay passed: an importer that
// must be all-or-nothing stages rows and commits after Read returns nil.
func Read(r io.Reader, format Format, defaultWarehouse string, fn func(Row) error) error {
	if defaultWarehouse != "" {
		if err := checkWarehouse(defaultWarehouse); err != nil {
			return fmt.Errorf("read catalog: selling %w", err)
		}
	}
	switch format {
	case FormatCSV:
		return readCSV(r, defaultWarehouse, fn)
	case FormatJSONL:
		return readJSONL(r, defaultWarehouse, fn)
	}
	return fmt.Errorf("read catalog: cannot tell whether it is CSV or JSON Lines: name the file .csv or .jsonl, or give the format")
}

// uniques finds repeated gids, mac_ids and rfids within a file. It keeps a
// 128-bit hash and a line number per value instead of the value, so a
// million-goods file costs about 30 MB and no row text is retained.
type uniques struct {
	seeds             [2]maphash.Seed
	gids, macs, rfids map[[2]uint64]int
}

func newUniques() *uniques {
	return &uniques{seeds: [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}}
}

// add records value in *set at line; it returns the line of an earlier
// occurrence, or 0.
func (u *uniques) add(set *map[[2]uint64]int, value string, line int) int {
	if *set == nil {
		*set = make(map[[2]uint64]int)
	}
	k := [2]uint64{maphash.String(u.seeds[0], value), maphash.String(u.seeds[1], value)}
	if first, ok := (*set)[k]; ok {
		return first
	}
	(*set)[k] = line
	return 0
}

// checkUnique returns a fieldError when g repeats a gid, mac_id or rfid seen
// earlier in the file.
func (u *uniques) checkUnique(g *goods.Goods, line int) *fieldError {
	if first := u.add(&u.gids, g.GID, line); first != 0 {
		return fieldErrorf(columnGID, "duplicate gid %q (first on line %d)", g.GID, first)
	}
	for _, m := range g.MacIDs {
		if first := u.add(&u.macs, m, line); first != 0 {
			return fieldErrorf(columnMacIDs, "mac_id %s is already bound to the goods on line %d", m, first)
		}
	}
	for _, t := range g.RFIDs {
		if first := u.add(&u.rfids, t, line); first != 0 {
			return fieldErrorf(columnRFIDs, "rfid %s is already bound to the goods on line %d", t, first)
		}
	}
	return nil
}

var errRowTooLong = fmt.Errorf("row is longer than %d bytes", MaxRowBytes)

// rowLimiter fails a read once more than max bytes were read since the last
// reset, which bounds how much a reader buffers for a single row.
type rowLimiter struct {
	r   io.Reader
	n   int
	max int
}

func (l *rowLimiter) Read(p []byte) (int, error) {
	if l.n >= l.max {
		return 0, errRowTooLong
	}
	if len(p) > l.max-l.n {
		p = p[:l.max-l.n]
	}
	n, err := l.r.Read(p)
	l.n += n
	return n, err
}

func (l *rowLimiter) reset() { l.n = 0 }

func callRow(fn func(Row) error, row Row) error {
	if err := fn(row); err != nil {
		return fmt.Errorf("line %d: %w", row.Line, err)
	}
	return nil
}
