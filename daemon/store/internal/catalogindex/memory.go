package catalogindex

import (
	"encoding/binary"
	"unsafe"
)

// The index's bulk lives outside the Go heap (mapAnon): byte arena, rows
// and hash tables hold no Go pointers, so nothing is lost by it, and the
// heap that GOGC scales stays the daemon's small working set. Each piece
// frees its mappings when the index it belongs to is replaced; readers
// only touch them under the index's lock and copy what they return.

// arena keeps byte strings back to back in fixed-size chunks; an sref is a
// string's chunk, offset and length. Chunks are never copied or grown, so
// a million goods build without the transient doubling of one big slice.
// The arena only grows: a rebuild starts a fresh one.
type arena struct {
	chunks [][]byte
	size   int // bytes put
}

type sref uint64

const (
	srefLenBits = 24 // strings up to 16 MiB
	srefOffBits = 20 // chunks of 1 MiB (longer strings get a chunk of their own)
	arenaChunk  = 1 << srefOffBits
)

// alloc reserves n bytes and returns them to be filled, with their ref.
func (a *arena) alloc(n int) ([]byte, sref) {
	if n >= 1<<srefLenBits {
		n = 1<<srefLenBits - 1 // records are far shorter; never split a reference
	}
	last := len(a.chunks) - 1
	if last < 0 || len(a.chunks[last])+n > cap(a.chunks[last]) {
		a.chunks = append(a.chunks, mapAnon(max(arenaChunk, n))[:0])
		last++
	}
	c := &a.chunks[last]
	off := len(*c)
	*c = (*c)[:off+n]
	a.size += n
	return (*c)[off : off+n : off+n], sref(uint64(last)<<(srefOffBits+srefLenBits) | uint64(off)<<srefLenBits | uint64(n))
}

func (a *arena) put(s []byte) sref {
	b, r := a.alloc(len(s))
	copy(b, s)
	return r
}

// view is the bytes of r; they never move.
func (a *arena) view(r sref) []byte {
	n := int(r & (1<<srefLenBits - 1))
	if n == 0 {
		return nil
	}
	c := a.chunks[r>>(srefOffBits+srefLenBits)]
	off := int(r >> srefLenBits & (1<<srefOffBits - 1))
	return c[off : off+n : off+n]
}

func (a *arena) free() {
	for _, c := range a.chunks {
		unmap(c[:cap(c)])
	}
	a.chunks, a.size = nil, 0
}

// record is what the arena holds per goods version: gid, lower-cased name
// and the packed wire JSON (packGoods), each but the last behind a
// uvarint length. One reference per row, and a lookup reads one place.
type record struct{ gid, lname, packed []byte }

func (a *arena) putRecord(r record) sref {
	var hg, hl [binary.MaxVarintLen64]byte
	g := binary.PutUvarint(hg[:], uint64(len(r.gid)))
	l := binary.PutUvarint(hl[:], uint64(len(r.lname)))
	b, ref := a.alloc(g + len(r.gid) + l + len(r.lname) + len(r.packed))
	w := copy(b, hg[:g])
	w += copy(b[w:], r.gid)
	w += copy(b[w:], hl[:l])
	w += copy(b[w:], r.lname)
	copy(b[w:], r.packed)
	return ref
}

// getRecord splits a record; the arena wrote it, so it is well formed.
func (a *arena) getRecord(ref sref) record {
	b := a.view(ref)
	n, k := binary.Uvarint(b)
	gid := b[k : k+int(n)]
	b = b[k+int(n):]
	n, k = binary.Uvarint(b)
	return record{gid: gid, lname: b[k : k+int(n)], packed: b[k+int(n):]}
}

// gidOf is the gid of a record without splitting the rest.
func (a *arena) gidOf(ref sref) []byte {
	b := a.view(ref)
	n, k := binary.Uvarint(b)
	return b[k : k+int(n)]
}

// row is one goods (or a gid known only from a stock row): 48 bytes.
// Changes carry their write transaction's version and a row keeps the
// newest, because hooks can arrive out of commit order.
type row struct {
	rec      sref // the current record
	avail    int64
	goodsVer uint64
	stockVer uint64
	alive    bool
	codeLen  uint8 // length of the barcode in place, or longCode
	code     [14]byte
}

// longCode marks a barcode that does not fit in place: an arena reference
// sits in the first 8 bytes of code. EAN-13, UPC and GTIN-14 fit.
const longCode = 0xff

func (r *row) barcode(a *arena) []byte {
	if r.codeLen == longCode {
		return a.view(sref(binary.LittleEndian.Uint64(r.code[:8])))
	}
	return r.code[:r.codeLen]
}

func (r *row) setBarcode(a *arena, code []byte) {
	if len(code) <= len(r.code) {
		r.codeLen = uint8(copy(r.code[:], code))
		return
	}
	r.codeLen = longCode
	binary.LittleEndian.PutUint64(r.code[:8], uint64(a.put(code)))
}

const (
	rowPageBits = 14
	rowPageLen  = 1 << rowPageBits
)

// rowStore holds rows in fixed pages, so growing never copies them and a
// row's address is stable.
type rowStore struct {
	pages [][]row
	mem   [][]byte
	n     uint32
}

func (rs *rowStore) at(i uint32) *row { return &rs.pages[i>>rowPageBits][i&(rowPageLen-1)] }

func (rs *rowStore) add() uint32 {
	if int(rs.n>>rowPageBits) == len(rs.pages) {
		m := mapAnon(rowPageLen * int(unsafe.Sizeof(row{})))
		rs.mem = append(rs.mem, m)
		rs.pages = append(rs.pages, unsafe.Slice((*row)(unsafe.Pointer(unsafe.SliceData(m))), rowPageLen))
	}
	rs.n++
	return rs.n - 1
}

func (rs *rowStore) free() {
	for _, m := range rs.mem {
		unmap(m)
	}
	rs.pages, rs.mem, rs.n = nil, nil, 0
}

// slotTable links keys to rows by open addressing: a slot packs 32 bits of
// the key's hash (which also pick its place) and 1 + the row. Several rows
// may sit under one hash; the caller tells them apart by the key the row
// holds. Slots are only added: a row that no longer has a key leaves its
// slot behind, which lookups skip and the next rebuild drops.
type slotTable struct {
	slots []uint64
	mem   []byte
	used  int
}

func slotOf(h uint64, row uint32) uint64 { return h>>32<<32 | uint64(row+1) }

// add links row under hash h, once.
func (st *slotTable) add(h uint64, row uint32) {
	if 2*(st.used+1) > len(st.slots) {
		st.grow()
	}
	if i, s := st.find(slotOf(h, row)); s == 0 {
		st.slots[i] = slotOf(h, row)
		st.used++
	}
}

func (st *slotTable) grow() {
	old, oldMem := st.slots, st.mem
	n := max(1024, 2*len(old))
	st.mem = mapAnon(8 * n)
	st.slots = unsafe.Slice((*uint64)(unsafe.Pointer(unsafe.SliceData(st.mem))), n)
	for _, s := range old {
		if s != 0 {
			i, _ := st.find(s)
			st.slots[i] = s
		}
	}
	unmap(oldMem)
}

// find probes from s's place for s itself or the first empty slot, and
// returns where it stopped and what is there (s or 0).
func (st *slotTable) find(s uint64) (uint64, uint64) {
	mask := uint64(len(st.slots) - 1)
	i := s >> 32 & mask
	for st.slots[i] != 0 && st.slots[i] != s {
		i = (i + 1) & mask
	}
	return i, st.slots[i]
}

// rows calls f with each row linked under hash h until f returns false.
func (st *slotTable) rows(h uint64, f func(row uint32) bool) {
	if len(st.slots) == 0 {
		return
	}
	mask := uint64(len(st.slots) - 1)
	for i := h >> 32 & mask; st.slots[i] != 0; i = (i + 1) & mask {
		if s := st.slots[i]; s>>32 == h>>32 && !f(uint32(s)-1) {
			return
		}
	}
}

func (st *slotTable) free() {
	unmap(st.mem)
	st.slots, st.mem, st.used = nil, nil, 0
}
