package store

import (
	"strings"

	"go.etcd.io/bbolt"

	"github.com/storebox/storebox/protocol/goods"
)

// Typed lookups for this package's tests: they read bbolt directly (not the
// in-memory index or the raw wire path), so tests can compare the fast
// paths against them. Production code answers with RawLookup and RawPage;
// other packages' tests use storetest.

// ByBarcode returns the goods with this barcode.
func (s *Store) ByBarcode(code string) (out []goods.Goods, err error) {
	err = s.db.View(func(tx *bbolt.Tx) error {
		out, err = s.goodsFor(tx, "", lookupIndex(tx, bktBarcode, code, MaxLookup))
		return err
	})
	return out, err
}

// ByGID returns the goods with this id (zero or one).
func (s *Store) ByGID(gid string) (out []goods.Goods, err error) {
	err = s.db.View(func(tx *bbolt.Tx) error {
		out, err = s.goodsFor(tx, "", []string{gid})
		return err
	})
	return out, err
}

// ByRFIDs returns the goods carrying any of the tags, once each, in tag order.
func (s *Store) ByRFIDs(tags []string) (out []goods.Goods, err error) {
	err = s.db.View(func(tx *bbolt.Tx) error {
		out, err = s.goodsFor(tx, "", rfidGIDs(tx, tags))
		return err
	})
	return out, err
}

// SearchName returns up to limit goods whose name contains q, case-insensitively.
func (s *Store) SearchName(q string, limit int) ([]goods.Goods, error) {
	if limit <= 0 || limit > MaxLookup {
		limit = MaxLookup
	}
	gids := s.idx.Search(strings.ToLower(q), limit)
	var out []goods.Goods
	err := s.db.View(func(tx *bbolt.Tx) error {
		var err error
		out, err = s.goodsFor(tx, "", gids)
		return err
	})
	return out, err
}

// AllGoods pages the catalog in gid order; cost does not grow with ost.
func (s *Store) AllGoods(ost, lmt int) ([]goods.Goods, int, error) {
	gids, total := s.idx.Page("", ost, lmt)
	var out []goods.Goods
	err := s.db.View(func(tx *bbolt.Tx) error {
		var err error
		out, err = s.goodsFor(tx, "", gids)
		return err
	})
	return out, total, err
}

// WarehouseGoods pages the goods stocked in wh, with wh's available stock.
func (s *Store) WarehouseGoods(wh string, ost, lmt int) ([]goods.Goods, int, error) {
	gids, total := s.idx.Page(wh, ost, lmt)
	var out []goods.Goods
	err := s.db.View(func(tx *bbolt.Tx) error {
		var err error
		out, err = s.goodsFor(tx, wh, gids)
		return err
	})
	return out, total, err
}

// StockOf returns the stock level of gid in wh.
func (s *Store) StockOf(wh, gid string) (l StockLevel, err error) {
	err = s.db.View(func(tx *bbolt.Tx) error {
		l = GetStock(tx, wh, gid)
		return nil
	})
	return l, err
}
