package store

import (
	"bytes"
	"encoding/json"
	"hash/maphash"
	"slices"
)

// goodsTable answers getGoods by barcode and by gid from memory: each
// goods' stored wire JSON, its barcode and the selling warehouse's
// available stock, all in the catalog index's arena. A lookup then costs a
// hash probe instead of three bbolt tree descents (barcode index, goods,
// stock), which were a third of the daemon's CPU under getGoods load.
//
// Every change carries its version (Tx.version: the write transaction's id,
// then the change's place in it), and a row only takes a change at least as
// new as what it holds: transaction hooks can arrive out of commit order,
// and a background build scans the store in several read transactions
// (scanVersion) while changes keep coming.
type goodsTable struct {
	rows  []goodsRow
	ids   gidMap            // gid → row
	codes map[uint64]uint32 // hash(barcode) → 1 + first node of its chain
	nodes []codeNode
	hash  func([]byte) uint64
}

type goodsRow struct {
	gid, raw, code     sref
	avail              int64
	goodsVer, stockVer uint64
	alive              bool
}

// codeNode links a barcode hash to a row. A row whose barcode changed
// leaves its old node behind; lookups compare the row's current barcode,
// so such a node is skipped (and dropped at the next rebuild).
type codeNode struct{ row, next uint32 }

func newGoodsTable() *goodsTable {
	seed := maphash.MakeSeed()
	return &goodsTable{ids: newGIDMap(), codes: map[uint64]uint32{},
		hash: func(b []byte) uint64 { return maphash.Bytes(seed, b) }}
}

// row finds gid's row, adding an empty one when create is set.
func (t *goodsTable) row(a *arena, gid []byte, create bool) (uint32, bool) {
	gidAt := func(i uint32) []byte { return a.view(t.rows[i].gid) }
	if i, ok := t.ids.get(gid, gidAt); ok || !create {
		return i, ok
	}
	n := uint32(len(t.rows))
	t.rows = append(t.rows, goodsRow{gid: a.put(gid)})
	t.ids.set(gid, n, gidAt)
	return n, true
}

func (t *goodsTable) upsert(a *arena, gid, raw []byte, code string, ver uint64) {
	i, _ := t.row(a, gid, true)
	r := &t.rows[i]
	if ver < r.goodsVer {
		return
	}
	r.goodsVer, r.alive, r.raw = ver, true, a.put(raw)
	t.setRowCode(a, i, []byte(code))
}

// setRowCode gives row i barcode code and links the row from it.
func (t *goodsTable) setRowCode(a *arena, i uint32, code []byte) {
	if r := &t.rows[i]; !bytes.Equal(a.view(r.code), code) {
		r.code = a.put(code)
		if len(code) > 0 {
			t.link(code, i)
		}
	}
}

// current reports whether a goods change of version ver is at least as new
// as what the row of gid holds (true when there is no row).
func (t *goodsTable) current(a *arena, gid []byte, ver uint64) bool {
	i, ok := t.row(a, gid, false)
	return !ok || ver >= t.rows[i].goodsVer
}

// setCode gives a row read in the build its barcode, unless a newer change
// already set the row.
func (t *goodsTable) setCode(a *arena, gid, code []byte, ver uint64) {
	i, ok := t.row(a, gid, false)
	if !ok || ver < t.rows[i].goodsVer {
		return
	}
	t.setRowCode(a, i, code)
}

func (t *goodsTable) remove(a *arena, gid []byte, ver uint64) {
	if i, ok := t.row(a, gid, false); ok && ver >= t.rows[i].goodsVer {
		t.rows[i].goodsVer, t.rows[i].alive = ver, false
	}
}

func (t *goodsTable) stock(a *arena, gid []byte, avail int64, ver uint64) {
	i, _ := t.row(a, gid, true)
	if r := &t.rows[i]; ver >= r.stockVer {
		r.stockVer, r.avail = ver, avail
	}
}

// link makes sure the chain of code holds row.
func (t *goodsTable) link(code []byte, row uint32) {
	h := t.hash(code)
	head := t.codes[h]
	for n := head; n != 0; n = t.nodes[n-1].next {
		if t.nodes[n-1].row == row {
			return
		}
	}
	t.nodes = append(t.nodes, codeNode{row: row, next: head})
	t.codes[h] = uint32(len(t.nodes))
}

// byCode returns the wire-ready goods with barcode code, ordered by gid,
// at most max.
func (t *goodsTable) byCode(a *arena, code []byte, max int) []json.RawMessage {
	var rows []*goodsRow
	for n := t.codes[t.hash(code)]; n != 0; n = t.nodes[n-1].next {
		r := &t.rows[t.nodes[n-1].row]
		if r.alive && bytes.Equal(a.view(r.code), code) {
			rows = append(rows, r)
		}
	}
	slices.SortFunc(rows, func(x, y *goodsRow) int { return bytes.Compare(a.view(x.gid), a.view(y.gid)) })
	out := make([]json.RawMessage, 0, min(len(rows), max))
	for _, r := range rows[:min(len(rows), max)] {
		out = append(out, rawGoods(a.view(r.raw), r.avail))
	}
	return out
}

// byGIDRaw returns the wire-ready goods gid, if it exists.
func (t *goodsTable) byGIDRaw(a *arena, gid []byte) []json.RawMessage {
	if i, ok := t.row(a, gid, false); ok && t.rows[i].alive {
		return []json.RawMessage{rawGoods(a.view(t.rows[i].raw), t.rows[i].avail)}
	}
	return nil
}

// lookupRaw answers getGoods by barcode or gid from memory; ok is false
// while the index is being built (the caller then asks bbolt).
func (ci *catalogIndex) lookupRaw(kind int, key string) (out []json.RawMessage, ok bool) {
	ci.mu.RLock()
	defer ci.mu.RUnlock()
	if ci.building || ci.goods == nil {
		return nil, false
	}
	switch kind {
	case ByKeyBarcode:
		return ci.goods.byCode(&ci.ar, []byte(key), MaxLookup), true
	case ByKeyGID:
		return ci.goods.byGIDRaw(&ci.ar, []byte(key)), true
	}
	return nil, false
}
