package store

import (
	"bytes"
	"encoding/binary"
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
//
// A lookup by barcode is laid out to touch little memory, since with a
// million goods every step is a cache (and TLB) miss: one run of the code
// table, the row (one cache line, its barcode in place), then the JSON.
type goodsTable struct {
	rows  []goodsRow
	ids   gidMap // gid → row
	codes codeTable
	hash  func([]byte) uint64
}

type goodsRow struct {
	gid, raw           sref
	code               rowCode
	avail              int64
	goodsVer, stockVer uint64
	alive              bool
}

func newGoodsTable() *goodsTable {
	seed := maphash.MakeSeed()
	return &goodsTable{ids: newGIDMap(),
		hash: func(b []byte) uint64 { return maphash.Bytes(seed, b) }}
}

// rowCode is a row's barcode: in place when it fits (EAN-13, UPC and
// internal codes do), else an arena reference in the first 8 bytes.
type rowCode struct {
	n uint8 // length, or longCode
	b [15]byte
}

const longCode = 0xff

func (c *rowCode) get(a *arena) []byte {
	if c.n == longCode {
		return a.view(sref(binary.LittleEndian.Uint64(c.b[:8])))
	}
	return c.b[:c.n]
}

func (c *rowCode) set(a *arena, code []byte) {
	if len(code) <= len(c.b) {
		c.n = uint8(copy(c.b[:], code))
		return
	}
	c.n = longCode
	binary.LittleEndian.PutUint64(c.b[:8], uint64(a.put(code)))
}

// codeTable links barcodes to rows by open addressing: a slot packs 32
// bits of the barcode's hash (which also pick its place) and 1 + the row.
// A barcode shared by several goods has a slot per row. A row whose
// barcode changed leaves its old slot behind; lookups compare the row's
// current barcode, so such a slot is skipped (and dropped at the next
// rebuild).
type codeTable struct {
	slots codeSlots
	used  int
}

func codeSlot(h uint64, row uint32) uint64 { return h>>32<<32 | uint64(row+1) }

// add links row under hash h, once.
func (ct *codeTable) add(h uint64, row uint32) {
	if 2*(ct.used+1) > len(ct.slots) {
		ct.grow()
	}
	if i, s := ct.slots.find(codeSlot(h, row)); s == 0 {
		ct.slots[i] = codeSlot(h, row)
		ct.used++
	}
}

func (ct *codeTable) grow() {
	old := ct.slots
	ct.slots = make(codeSlots, max(1024, 2*len(old)))
	for _, s := range old {
		if s != 0 {
			i, _ := ct.slots.find(s)
			ct.slots[i] = s
		}
	}
}

type codeSlots []uint64

// find probes from s's place for s itself or the first empty slot, and
// returns where it stopped and what is there (s or 0).
func (slots codeSlots) find(s uint64) (uint64, uint64) {
	mask := uint64(len(slots) - 1)
	i := s >> 32 & mask
	for slots[i] != 0 && slots[i] != s {
		i = (i + 1) & mask
	}
	return i, slots[i]
}

// rows calls f with each row linked under hash h.
func (ct *codeTable) rows(h uint64, f func(row uint32)) {
	if len(ct.slots) == 0 {
		return
	}
	mask := uint64(len(ct.slots) - 1)
	for i := h >> 32 & mask; ct.slots[i] != 0; i = (i + 1) & mask {
		if s := ct.slots[i]; s>>32 == h>>32 {
			f(uint32(s) - 1)
		}
	}
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
	if r := &t.rows[i]; !bytes.Equal(r.code.get(a), code) {
		r.code.set(a, code)
		if len(code) > 0 {
			t.codes.add(t.hash(code), i)
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

// removedSince reports whether gid was deleted by a change newer than ver.
func (t *goodsTable) removedSince(a *arena, gid []byte, ver uint64) bool {
	i, ok := t.row(a, gid, false)
	return ok && !t.rows[i].alive && t.rows[i].goodsVer > ver
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

// byCode returns the wire-ready goods with barcode code, ordered by gid,
// at most max.
func (t *goodsTable) byCode(a *arena, code []byte, max int) []json.RawMessage {
	var one [1]*goodsRow // the usual case: one goods per barcode
	rows := one[:0]
	t.codes.rows(t.hash(code), func(i uint32) {
		if r := &t.rows[i]; r.alive && bytes.Equal(r.code.get(a), code) {
			rows = append(rows, r)
		}
	})
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
