package store

import (
	"encoding/json"
	"fmt"
	"sort"

	"go.etcd.io/bbolt"

	"github.com/storebox/storebox/protocol/goods"
	"github.com/storebox/storebox/protocol/ledger"
)

// ImportRow is one goods from a catalog file.
type ImportRow struct {
	Line     int
	Goods    goods.Goods
	Stock    map[string]int64 // warehouse → on hand; applied only if HasStock
	HasStock bool
}

// ImportResult counts what an import did.
type ImportResult struct {
	Rows      int `json:"rows"`
	Created   int `json:"created"`
	Updated   int `json:"updated"`
	Unchanged int `json:"unchanged"`
	Deleted   int `json:"deleted"`
}

// ImportOptions tunes Import.
type ImportOptions struct {
	Replace  bool           // delete goods not in the file
	Progress func(rows int) // called every few thousand rows
	Source   string         // file name, for the ledger event
}

// Import applies a catalog in one transaction: a bad row aborts the whole
// import and leaves the catalog as it was. source calls yield per row; an
// error from source (e.g. a parse error with line and column) aborts too.
// Stock in the file sets on-hand quantities; reservations are kept, and a
// quantity below what is reserved is refused.
func (s *Store) Import(source func(yield func(ImportRow) error) error, opts ImportOptions) (ImportResult, error) {
	var res ImportResult
	err := s.Update(func(t *Tx) error {
		res = ImportResult{}
		t.bulk = true
		var seen map[string]struct{}
		if opts.Replace {
			seen = map[string]struct{}{}
		}
		err := source(func(row ImportRow) error {
			g := row.Goods
			if err := g.Validate(); err != nil {
				return fmt.Errorf("line %d: %w", row.Line, err)
			}
			existed := t.Bucket(bktGoods).Get([]byte(g.GID)) != nil
			changed, err := t.putRecord(toRecord(g))
			if err != nil {
				return fmt.Errorf("line %d: %w", row.Line, err)
			}
			switch {
			case !existed:
				res.Created++
			case changed:
				res.Updated++
			default:
				res.Unchanged++
			}
			if row.HasStock {
				whs := make([]string, 0, len(row.Stock))
				for wh := range row.Stock {
					whs = append(whs, wh)
				}
				sort.Strings(whs)
				for _, wh := range whs {
					lvl := GetStock(t.Tx, wh, g.GID)
					lvl.OnHand = row.Stock[wh]
					if lvl.OnHand < lvl.Reserved {
						return fmt.Errorf("line %d, column stock: %s has %d reserved by pending orders; on hand cannot be set to %d", row.Line, wh, lvl.Reserved, lvl.OnHand)
					}
					if err := t.PutStock(wh, g.GID, lvl); err != nil {
						return fmt.Errorf("line %d: %w", row.Line, err)
					}
				}
			}
			if seen != nil {
				seen[g.GID] = struct{}{}
			}
			res.Rows++
			if opts.Progress != nil && res.Rows%5000 == 0 {
				opts.Progress(res.Rows)
			}
			return nil
		})
		if err != nil {
			return err
		}
		if seen != nil {
			var stale []string
			c := t.Bucket(bktGoods).Cursor()
			for k, _ := c.First(); k != nil; k, _ = c.Next() {
				if _, ok := seen[string(k)]; !ok {
					stale = append(stale, string(k))
				}
			}
			for _, gid := range stale {
				if err := t.deleteGoods(gid); err != nil {
					return err
				}
				res.Deleted++
			}
		}
		if opts.Progress != nil {
			opts.Progress(res.Rows)
		}
		_, err = t.AppendEvent(ledger.CatalogImported, map[string]any{"source": opts.Source, "replace": opts.Replace, "result": res})
		return err
	})
	if err != nil {
		return ImportResult{}, err
	}
	// Per-row index maintenance is skipped in bulk mode; rebuild once.
	if err := s.rebuildIndexes(); err != nil {
		return res, fmt.Errorf("import committed, rebuilding indexes: %w", err)
	}
	return res, nil
}

// deleteGoods removes a goods, its indexes and its stock rows. A goods
// with reserved stock is refused so a pending order never loses its lines.
func (t *Tx) deleteGoods(gid string) error {
	b := t.Bucket(bktStock)
	for _, wh := range stockWarehouses(t.Tx) {
		k := ikey(wh, gid)
		v := b.Get(k)
		if v == nil {
			continue
		}
		if decodeStock(v).Reserved > 0 {
			return fmt.Errorf("%w: goods %s has stock reserved by pending orders", ErrConflict, gid)
		}
		if err := b.Delete(k); err != nil {
			return err
		}
		if !t.bulk {
			t.After(func() { t.s.idx.removeWarehouseGID(wh, gid) })
		}
	}
	_, err := t.deleteRecord(gid)
	return err
}

// stockWarehouses lists the warehouses in the stock bucket by jumping from
// one key prefix to the next, without walking every row.
func stockWarehouses(tx *bbolt.Tx) []string {
	var out []string
	c := tx.Bucket(bktStock).Cursor()
	for k, _ := c.First(); k != nil; {
		i := indexOfZero(k)
		if i < 0 {
			k, _ = c.Next()
			continue
		}
		wh := string(k[:i])
		out = append(out, wh)
		k, _ = c.Seek(append([]byte(wh), 1))
	}
	return out
}

func indexOfZero(b []byte) int {
	for i, c := range b {
		if c == 0 {
			return i
		}
	}
	return -1
}

// CatalogCursor is the stored catalog-feed cursor ("" before the first page).
func (s *Store) CatalogCursor() (string, error) {
	var c string
	err := s.db.View(func(tx *bbolt.Tx) error {
		c = string(tx.Bucket(bktMeta).Get(keyCatalogCurso))
		return nil
	})
	return c, err
}

// ApplyCatalogPage applies one feed page and its cursor atomically. Feed
// stock is ignored: stock changes only by receipts, sales and adjustments.
func (s *Store) ApplyCatalogPage(cursor string, items []goods.Goods, deleted []string) ([]goods.Goods, error) {
	var changedGIDs []string
	err := s.Update(func(t *Tx) error {
		changedGIDs = changedGIDs[:0]
		for i, g := range items {
			if err := g.Validate(); err != nil {
				return fmt.Errorf("feed item %d (%s): %w", i, g.GID, err)
			}
			changed, err := t.putRecord(toRecord(g))
			if err != nil {
				return err
			}
			if changed {
				changedGIDs = append(changedGIDs, g.GID)
			}
		}
		for _, gid := range deleted {
			if err := t.deleteGoods(gid); err != nil {
				return err
			}
		}
		return t.Bucket(bktMeta).Put(keyCatalogCurso, []byte(cursor))
	})
	if err != nil {
		return nil, err
	}
	var out []goods.Goods
	err = s.db.View(func(tx *bbolt.Tx) error {
		for _, gid := range changedGIDs {
			if g, ok, err := s.GoodsTx(tx, gid); err == nil && ok {
				out = append(out, g)
			}
		}
		return nil
	})
	return out, err
}

// ExportGoods is a goods with its on-hand stock in every warehouse.
type ExportGoods struct {
	Goods  goods.Goods
	OnHand map[string]int64
}

// ForEachGoods walks the catalog in gid order in pages, so a long export
// never holds one read transaction open for its whole length.
func (s *Store) ForEachGoods(fn func(ExportGoods) error) error {
	after := ""
	first := true
	for {
		var page []ExportGoods
		err := s.db.View(func(tx *bbolt.Tx) error {
			whs := stockWarehouses(tx)
			c := tx.Bucket(bktGoods).Cursor()
			var k, v []byte
			if first {
				k, v = c.First()
			} else {
				k, v = c.Seek([]byte(after))
				if k != nil && string(k) == after {
					k, v = c.Next()
				}
			}
			for ; k != nil && len(page) < 1000; k, v = c.Next() {
				var r record
				if err := json.Unmarshal(v, &r); err != nil {
					return fmt.Errorf("decode goods %s: %w", k, err)
				}
				eg := ExportGoods{Goods: r.goods(0), OnHand: map[string]int64{}}
				for _, wh := range whs {
					if sv := tx.Bucket(bktStock).Get(ikey(wh, r.GID)); sv != nil {
						eg.OnHand[wh] = decodeStock(sv).OnHand
					}
				}
				page = append(page, eg)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, g := range page {
			if err := fn(g); err != nil {
				return err
			}
		}
		if len(page) < 1000 {
			return nil
		}
		after, first = page[len(page)-1].Goods.GID, false
	}
}
