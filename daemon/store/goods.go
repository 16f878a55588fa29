package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"go.etcd.io/bbolt"

	"github.com/storebox/storebox/protocol/catalogfile"
	"github.com/storebox/storebox/protocol/goods"
)

// record is a goods as stored: everything but stock, which lives per
// warehouse in its own bucket.
type record struct {
	GID      string   `json:"gid"`
	Barcode  string   `json:"barcode"`
	Name     string   `json:"gname"`
	Price    int64    `json:"price"`
	Unit     string   `json:"unit"`
	Category string   `json:"category,omitempty"`
	MacIDs   []string `json:"mac_ids,omitempty"`
	RFIDs    []string `json:"rfids,omitempty"`
}

func toRecord(g goods.Goods) record {
	return record{GID: g.GID, Barcode: g.Barcode, Name: g.Name, Price: g.Price, Unit: g.Unit, Category: g.Category, MacIDs: g.MacIDs, RFIDs: g.RFIDs}
}

func (r record) goods(stock int64) goods.Goods {
	return goods.Goods{GID: r.GID, Barcode: r.Barcode, Name: r.Name, Price: r.Price, Unit: r.Unit, Stock: stock, Category: r.Category, MacIDs: r.MacIDs, RFIDs: r.RFIDs}
}

// StockLevel is one warehouse's stock of one goods.
type StockLevel struct {
	OnHand   int64
	Reserved int64
}

// Available is what can be sold now.
func (l StockLevel) Available() int64 { return l.OnHand - l.Reserved }

func decodeStock(v []byte) StockLevel {
	if len(v) != 16 {
		return StockLevel{}
	}
	return StockLevel{OnHand: int64(binary.BigEndian.Uint64(v[:8])), Reserved: int64(binary.BigEndian.Uint64(v[8:]))}
}

func encodeStock(l StockLevel) []byte {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(l.OnHand))
	binary.BigEndian.PutUint64(b[8:], uint64(l.Reserved))
	return b[:]
}

// GetStock reads one stock level inside tx.
func GetStock(tx *bbolt.Tx, wh, gid string) StockLevel {
	return decodeStock(tx.Bucket(bktStock).Get(ikey(wh, gid)))
}

// PutStock writes one stock level inside tx, refusing negative values so a
// bug elsewhere can never persist an oversell.
func (t *Tx) PutStock(wh, gid string, l StockLevel) error {
	if l.OnHand < 0 || l.Reserved < 0 || l.Reserved > l.OnHand {
		return fmt.Errorf("stock %s/%s would become inconsistent (on hand %d, reserved %d)", wh, gid, l.OnHand, l.Reserved)
	}
	k := ikey(wh, gid)
	b := t.Bucket(bktStock)
	oldV := b.Get(k)
	old := decodeStock(oldV)
	if err := b.Put(k, encodeStock(l)); err != nil {
		return err
	}
	if oldV == nil && !t.bulk {
		ver := t.version()
		t.After(func() { t.s.idx.AddWarehouseGID(wh, gid, ver) })
	}
	if wh == t.s.warehouse && !t.bulk {
		avail, ver := l.Available(), t.version()
		t.After(func() { t.s.idx.Stock(gid, avail, ver) })
	}
	// Labels show availability, so a crossing of zero is a goods change.
	if wh == t.s.warehouse && (old.Available() > 0) != (l.Available() > 0) {
		t.MarkChanged(gid)
	}
	return nil
}

func getRecord(tx *bbolt.Tx, gid string) (record, bool, error) {
	v := tx.Bucket(bktGoods).Get([]byte(gid))
	if v == nil {
		return record{}, false, nil
	}
	var r record
	if err := json.Unmarshal(v, &r); err != nil {
		return record{}, false, fmt.Errorf("decode goods %s: %w", gid, err)
	}
	return r, true, nil
}

// GoodsTx reads one goods with the selling warehouse's available stock.
func (s *Store) GoodsTx(tx *bbolt.Tx, gid string) (goods.Goods, bool, error) {
	r, ok, err := getRecord(tx, gid)
	if !ok || err != nil {
		return goods.Goods{}, ok, err
	}
	return r.goods(GetStock(tx, s.warehouse, gid).Available()), true, nil
}

// putRecord writes a goods and its indexes, removing the old index entries.
func (t *Tx) putRecord(r record) (changed bool, err error) {
	tx := t.Tx
	old, existed, err := getRecord(tx, r.GID)
	if err != nil {
		return false, err
	}
	if existed {
		if old.equal(r) {
			return false, nil
		}
		if err := deleteIndexes(tx, old); err != nil {
			return false, err
		}
	}
	v, err := json.Marshal(r)
	if err != nil {
		return false, err
	}
	if err := tx.Bucket(bktGoods).Put([]byte(r.GID), v); err != nil {
		return false, err
	}
	lname := strings.ToLower(r.Name)
	if err := tx.Bucket(bktNames).Put([]byte(r.GID), []byte(lname)); err != nil {
		return false, err
	}
	for _, e := range indexEntries(r) {
		if err := tx.Bucket(e.bucket).Put(ikey(e.key, r.GID), nil); err != nil {
			return false, err
		}
	}
	gid := r.GID
	if !t.bulk {
		code, ver := r.Barcode, t.version()
		t.After(func() { t.s.idx.Upsert(gid, lname, v, code, ver) })
	}
	if existed && (!t.bulk || len(r.MacIDs) > 0 || len(old.MacIDs) > 0) && (old.Price != r.Price || old.Name != r.Name || old.Unit != r.Unit || !eqStrings(old.MacIDs, r.MacIDs)) {
		t.MarkChanged(gid)
	}
	return true, nil
}

func (t *Tx) deleteRecord(gid string) (bool, error) {
	tx := t.Tx
	old, existed, err := getRecord(tx, gid)
	if err != nil || !existed {
		return false, err
	}
	if err := deleteIndexes(tx, old); err != nil {
		return false, err
	}
	if err := tx.Bucket(bktGoods).Delete([]byte(gid)); err != nil {
		return false, err
	}
	if err := tx.Bucket(bktNames).Delete([]byte(gid)); err != nil {
		return false, err
	}
	if !t.bulk {
		ver := t.version()
		t.After(func() { t.s.idx.Remove(gid, ver) })
	}
	return true, nil
}

type indexEntry struct {
	bucket []byte
	key    string
}

func indexEntries(r record) []indexEntry {
	var es []indexEntry
	if r.Barcode != "" {
		es = append(es, indexEntry{bktBarcode, r.Barcode})
	}
	for _, m := range r.MacIDs {
		es = append(es, indexEntry{bktMac, normalizeMac(m)})
	}
	for _, t := range r.RFIDs {
		es = append(es, indexEntry{bktRFID, strings.ToUpper(t)})
	}
	return es
}

func deleteIndexes(tx *bbolt.Tx, r record) error {
	for _, e := range indexEntries(r) {
		if err := tx.Bucket(e.bucket).Delete(ikey(e.key, r.GID)); err != nil {
			return err
		}
	}
	return nil
}

// normalizeMac makes label MACs compare equal however a device spells them
// ("a4-c1-…", "A4C1…", "ESL_A4C1…"); ids that are not MACs compare as
// upper-cased text.
func normalizeMac(m string) string { return NormalizeMAC(m) }

// NormalizeMAC is the canonical form of a label id.
func NormalizeMAC(m string) string {
	if c, err := catalogfile.NormalizeMAC(m); err == nil {
		return c
	}
	return strings.ToUpper(strings.TrimSpace(m))
}

func (r record) equal(o record) bool {
	return r.GID == o.GID && r.Barcode == o.Barcode && r.Name == o.Name && r.Price == o.Price &&
		r.Unit == o.Unit && r.Category == o.Category && eqStrings(r.MacIDs, o.MacIDs) && eqStrings(r.RFIDs, o.RFIDs)
}

func eqStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// lookupIndex returns the gids filed under key in an index bucket.
func lookupIndex(tx *bbolt.Tx, bucket []byte, key string, max int) []string {
	prefix := append([]byte(key), 0)
	c := tx.Bucket(bucket).Cursor()
	var gids []string
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && len(gids) < max; k, _ = c.Next() {
		gids = append(gids, string(k[len(prefix):]))
	}
	return gids
}

// MaxLookup caps how many goods one getGoods lookup returns.
const MaxLookup = 100

func (s *Store) goodsFor(tx *bbolt.Tx, wh string, gids []string) ([]goods.Goods, error) {
	if wh == "" {
		wh = s.warehouse
	}
	out := make([]goods.Goods, 0, len(gids))
	for _, gid := range gids {
		r, ok, err := getRecord(tx, gid)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, r.goods(GetStock(tx, wh, gid).Available()))
		}
	}
	return out, nil
}

// rawGoods is a stored record with "stock" spliced in: the stored JSON is
// the wire goods object minus stock, so device replies skip a decode and an
// encode per goods.
func rawGoods(v []byte, stock int64) json.RawMessage {
	out := make([]byte, 0, len(v)+24)
	out = append(out, v[:len(v)-1]...)
	out = append(out, `,"stock":`...)
	out = strconv.AppendInt(out, stock, 10)
	return append(out, '}')
}

func (s *Store) rawFor(tx *bbolt.Tx, wh string, gids []string) []json.RawMessage {
	if wh == "" {
		wh = s.warehouse
	}
	out := make([]json.RawMessage, 0, len(gids))
	gb := tx.Bucket(bktGoods)
	for _, gid := range gids {
		if v := gb.Get([]byte(gid)); len(v) > 1 {
			out = append(out, rawGoods(v, GetStock(tx, wh, gid).Available()))
		}
	}
	return out
}

// Lookup keys for RawLookup.
const (
	ByKeyBarcode = iota
	ByKeyMac
	ByKeyGID
	ByKeyName
)

// RawLookup answers getGoods by one key with wire-ready goods objects.
func (s *Store) RawLookup(kind int, key string) ([]json.RawMessage, error) {
	switch kind {
	case ByKeyBarcode:
		if out, ok := s.idx.ByBarcode(key, MaxLookup); ok {
			return out, nil
		}
	case ByKeyGID:
		if out, ok := s.idx.ByGID(key); ok {
			return out, nil
		}
	}
	var gids []string
	if kind == ByKeyName {
		gids = s.idx.Search(strings.ToLower(key), MaxLookup)
	}
	var out []json.RawMessage
	err := s.db.View(func(tx *bbolt.Tx) error {
		switch kind {
		case ByKeyBarcode:
			gids = lookupIndex(tx, bktBarcode, key, MaxLookup)
		case ByKeyMac:
			gids = lookupIndex(tx, bktMac, normalizeMac(key), MaxLookup)
		case ByKeyGID:
			gids = []string{key}
		}
		out = s.rawFor(tx, "", gids)
		return nil
	})
	return out, err
}

// rfidGIDs is the goods carrying any of the tags, once each, in tag order.
func rfidGIDs(tx *bbolt.Tx, tags []string) []string {
	seen := map[string]bool{}
	var gids []string
	for _, t := range tags {
		for _, gid := range lookupIndex(tx, bktRFID, strings.ToUpper(t), MaxLookup) {
			if !seen[gid] {
				seen[gid] = true
				gids = append(gids, gid)
			}
		}
	}
	return gids
}

// RawRFIDs answers getGoods by RFID tags with wire-ready goods objects.
func (s *Store) RawRFIDs(tags []string) ([]json.RawMessage, error) {
	var out []json.RawMessage
	err := s.db.View(func(tx *bbolt.Tx) error {
		out = s.rawFor(tx, "", rfidGIDs(tx, tags))
		return nil
	})
	return out, err
}

// RawPage is AllGoods (wh == "") or WarehouseGoods with wire-ready objects.
// A page's gids are consecutive keys, so it walks cursors over the goods
// and stock buckets instead of descending the trees once per goods.
func (s *Store) RawPage(wh string, ost, lmt int) ([]json.RawMessage, int, error) {
	gids, total := s.idx.Page(wh, ost, lmt)
	if wh == "" {
		wh = s.warehouse
	}
	out := make([]json.RawMessage, 0, len(gids))
	err := s.db.View(func(tx *bbolt.Tx) error {
		if len(gids) == 0 {
			return nil
		}
		gc := tx.Bucket(bktGoods).Cursor()
		sc := tx.Bucket(bktStock).Cursor()
		prefix := append([]byte(wh), 0)
		gk, gv := gc.Seek([]byte(gids[0]))
		sk, sv := sc.Seek(append(prefix, gids[0]...))
		for _, gid := range gids {
			for gk != nil && string(gk) < gid {
				gk, gv = gc.Next()
			}
			if gk == nil || string(gk) != gid || len(gv) < 2 {
				continue // deleted since the index was read
			}
			var stock StockLevel
			for sk != nil && bytes.HasPrefix(sk, prefix) && string(sk[len(prefix):]) < gid {
				sk, sv = sc.Next()
			}
			if sk != nil && bytes.HasPrefix(sk, prefix) && string(sk[len(prefix):]) == gid {
				stock = decodeStock(sv)
			}
			out = append(out, rawGoods(gv, stock.Available()))
		}
		return nil
	})
	return out, total, err
}

// AppendGoodsArray writes {"goods":[...]} (with "total" when total ≥ 0) from
// wire-ready objects, without re-validating them as json.Marshal would.
func AppendGoodsArray(dst []byte, gs []json.RawMessage, total int) []byte {
	dst = append(dst, `{"goods":[`...)
	for i, g := range gs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, g...)
	}
	dst = append(dst, ']')
	if total >= 0 {
		dst = append(dst, `,"total":`...)
		dst = strconv.AppendInt(dst, int64(total), 10)
	}
	return append(dst, '}')
}

// ByMac returns the goods bound to an e-label MAC.
func (s *Store) ByMac(mac string) (out []goods.Goods, err error) {
	err = s.db.View(func(tx *bbolt.Tx) error {
		out, err = s.goodsFor(tx, "", lookupIndex(tx, bktMac, normalizeMac(mac), MaxLookup))
		return err
	})
	return out, err
}

// GoodsCount is the number of goods in the catalog.
func (s *Store) GoodsCount() int { return s.idx.Count() }

// hooks carries post-commit work and change notifications.
type hooks struct {
	mu           sync.Mutex
	goodsChanged []func([]goods.Goods)
}

// OnGoodsChanged registers fn to receive goods whose price, name, label
// binding or selling-warehouse stock changed (after commit).
func (s *Store) OnGoodsChanged(fn func([]goods.Goods)) {
	s.hooks.mu.Lock()
	s.hooks.goodsChanged = append(s.hooks.goodsChanged, fn)
	s.hooks.mu.Unlock()
}
