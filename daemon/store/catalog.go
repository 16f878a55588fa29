package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

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
	// StockSet counts rows whose on-hand stock the file changed;
	// StockKept rows whose stock in the file differs from the store's
	// and was left alone (the store's receipts and sales since count).
	StockSet  int `json:"stock_set"`
	StockKept int `json:"stock_kept"`
}

// ImportOptions tunes Import.
type ImportOptions struct {
	Replace  bool           // delete goods not in the file
	SetStock bool           // let the file's stock overwrite stock the store already has
	Progress func(rows int) // called every few thousand rows
	Source   string         // file name, for the ledger event
}

// Import applies a catalog in one transaction: a bad row aborts the whole
// import and leaves the catalog as it was. source calls yield per row; an
// error from source (e.g. a parse error with line and column) aborts too.
// Stock in the file sets on-hand quantities where the store has none yet
// (new goods, or a warehouse without a stock row); stock the store already
// keeps — received and sold since the last file — is only overwritten with
// SetStock. Reservations are kept, and a quantity below what is reserved is
// refused.
//
// Writes are collected and applied per bucket in key order: bbolt does not
// split pages inside a transaction, so random-order inserts into one large
// transaction cost quadratic time, while sorted inserts append.
func (s *Store) Import(source func(yield func(ImportRow) error) error, opts ImportOptions) (ImportResult, error) {
	var res ImportResult
	err := s.Update(func(t *Tx) error {
		res = ImportResult{}
		t.bulk = true
		puts := newBulkPuts()
		var seen map[string]struct{}
		if opts.Replace {
			seen = map[string]struct{}{}
		}
		err := source(func(row ImportRow) error {
			g := row.Goods
			if err := g.Validate(); err != nil {
				return fmt.Errorf("line %d: %w", row.Line, err)
			}
			r := toRecord(g)
			old, existed, err := getRecord(t.Tx, g.GID)
			if err != nil {
				return fmt.Errorf("line %d: %w", row.Line, err)
			}
			switch {
			case !existed:
				res.Created++
			case old.equal(r):
				res.Unchanged++
			default:
				res.Updated++
				if err := deleteIndexes(t.Tx, old); err != nil {
					return err
				}
				if old.Price != r.Price || old.Name != r.Name || old.Unit != r.Unit || !eqStrings(old.MacIDs, r.MacIDs) {
					if len(r.MacIDs) > 0 || len(old.MacIDs) > 0 {
						t.MarkChanged(g.GID)
					}
				}
			}
			if !existed || !old.equal(r) {
				v, err := json.Marshal(r)
				if err != nil {
					return err
				}
				puts.add(bktGoods, []byte(r.GID), v)
				puts.add(bktNames, []byte(r.GID), []byte(strings.ToLower(r.Name)))
				for _, e := range indexEntries(r) {
					puts.add(e.bucket, ikey(e.key, r.GID), nil)
				}
			}
			if row.HasStock {
				set, kept := false, false
				for wh, qty := range row.Stock {
					lvl := GetStock(t.Tx, wh, g.GID)
					if lvl.OnHand == qty {
						continue
					}
					if !opts.SetStock && t.Bucket(bktStock).Get(ikey(wh, g.GID)) != nil {
						kept = true
						continue
					}
					set = true
					if qty < lvl.Reserved {
						return fmt.Errorf("line %d, column stock: %s has %d reserved by pending orders; on hand cannot be set to %d", row.Line, wh, lvl.Reserved, qty)
					}
					if qty < 0 {
						return fmt.Errorf("line %d, column stock: negative quantity", row.Line)
					}
					if wh == s.warehouse && (lvl.Available() > 0) != (qty-lvl.Reserved > 0) && len(r.MacIDs) > 0 {
						t.MarkChanged(g.GID)
					}
					lvl.OnHand = qty
					puts.add(bktStock, ikey(wh, g.GID), encodeStock(lvl))
				}
				if set {
					res.StockSet++
				} else if kept {
					res.StockKept++
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
		if err := puts.apply(t.Tx); err != nil {
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
		_, err = t.AppendEvent(ledger.CatalogImported, map[string]any{"source": opts.Source, "replace": opts.Replace, "set_stock": opts.SetStock, "result": res})
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

// bulkPuts collects writes per bucket to apply them in key order.
type bulkPuts struct {
	byBucket map[string][]kv
}

type kv struct{ k, v []byte }

func newBulkPuts() *bulkPuts { return &bulkPuts{byBucket: map[string][]kv{}} }

func (b *bulkPuts) add(bucket, k, v []byte) {
	b.byBucket[string(bucket)] = append(b.byBucket[string(bucket)], kv{k, v})
}

func (b *bulkPuts) apply(tx *bbolt.Tx) error {
	for name, kvs := range b.byBucket {
		sort.Slice(kvs, func(i, j int) bool { return bytes.Compare(kvs[i].k, kvs[j].k) < 0 })
		bk := tx.Bucket([]byte(name))
		bk.FillPercent = 0.9
		for _, e := range kvs {
			if err := bk.Put(e.k, e.v); err != nil {
				return fmt.Errorf("import: write %s: %w", name, err)
			}
		}
	}
	return nil
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
			whVer := t.version()
			t.After(func() { t.s.idx.RemoveWarehouseGID(wh, gid, whVer) })
			if wh == t.s.warehouse {
				ver := t.version()
				t.After(func() { t.s.idx.Stock(gid, 0, ver) })
			}
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
