package catalogindex

import (
	"bytes"
	"encoding/json"
	"hash/maphash"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// data is one generation of the index: what a build makes and changes
// keep current until the next build replaces it.
type data struct {
	ar    arena
	rows  rowStore
	ids   slotTable // gid hash → row
	codes slotTable // barcode hash → rows
	pk    *packer
	names *nameIndex
	hash  func([]byte) uint64 // maphash with a seed of this generation's
	gids  []uint32            // rows of all goods, sorted by gid
	byWH  map[string][]uint32 // warehouse → rows with a stock row, sorted by gid
	// A stock row's coming and going reaches byWH through hooks, which can
	// arrive out of commit order; whVer keeps the version of the newest
	// change applied per warehouse and gid, and stockScan the versions at
	// which the build read the stock rows, so an older change is dropped.
	whVer     map[string]uint64
	stockScan []scanMark
}

// scanMark says the build read the keys up to and including last (after
// the previous mark's) at version ver; the final mark also covers every
// key after it.
type scanMark struct {
	last string
	ver  uint64
}

func newData() *data {
	seed := maphash.MakeSeed()
	return &data{pk: newPacker(), names: newNameIndex(), hash: func(b []byte) uint64 { return maphash.Bytes(seed, b) },
		byWH: map[string][]uint32{}, whVer: map[string]uint64{}}
}

func (d *data) free() {
	d.ar.free()
	d.rows.free()
	d.ids.free()
	d.codes.free()
	d.names.free()
}

func (d *data) gidOf(row uint32) []byte { return d.ar.gidOf(d.rows.at(row).rec) }

// row finds gid's row, adding an empty one when create is set.
func (d *data) row(gid []byte, create bool) (uint32, bool) {
	h := d.hash(gid)
	found, ok := uint32(0), false
	d.ids.rows(h, func(i uint32) bool {
		if bytes.Equal(d.gidOf(i), gid) {
			found, ok = i, true
			return false
		}
		return true
	})
	if ok || !create {
		return found, ok
	}
	i := d.rows.add()
	d.rows.at(i).rec = d.ar.putRecord(record{gid: gid})
	d.ids.add(h, i)
	return i, true
}

// setGoods gives row i a new version of its goods.
func (d *data) setGoods(i uint32, raw, code, lname []byte, ver uint64, built bool) {
	r := d.rows.at(i)
	old := d.ar.getRecord(r.rec)
	if built {
		d.names.addBuilt(i, lname)
	} else if !bytes.Equal(old.lname, lname) {
		d.names.add(i, lname)
	}
	var buf [256]byte
	packed := d.pk.pack(buf[:0], raw, old.gid, code, lname)
	r.rec = d.ar.putRecord(record{gid: old.gid, lname: lname, packed: packed})
	r.goodsVer, r.alive = ver, true
	if !bytes.Equal(r.barcode(&d.ar), code) {
		r.setBarcode(&d.ar, code)
		if len(code) > 0 {
			d.codes.add(d.hash(code), i)
		}
	}
}

// current reports whether a goods change of version ver is at least as new
// as what the row of gid holds (true when there is no row).
func (d *data) current(gid []byte, ver uint64) bool {
	i, ok := d.row(gid, false)
	return !ok || ver >= d.rows.at(i).goodsVer
}

// removedSince reports whether gid was deleted by a change newer than ver.
func (d *data) removedSince(gid []byte, ver uint64) bool {
	i, ok := d.row(gid, false)
	return ok && !d.rows.at(i).alive && d.rows.at(i).goodsVer > ver
}

func (d *data) stock(gid []byte, avail int64, ver uint64) {
	i, _ := d.row(gid, true)
	if r := d.rows.at(i); ver >= r.stockVer {
		r.stockVer, r.avail = ver, avail
	}
}

// appendGoods appends row i's wire-ready goods: its JSON with the selling
// warehouse's available stock spliced in.
func (d *data) appendGoods(dst []byte, i uint32) []byte {
	r := d.rows.at(i)
	rec := d.ar.getRecord(r.rec)
	code := r.barcode(&d.ar)
	if dst == nil {
		dst = make([]byte, 0, d.pk.size(rec.packed, rec.gid, code, rec.lname)+len(`,"stock":`)+20)
	}
	start := len(dst)
	dst, ok := d.pk.unpack(dst, rec.packed, rec.gid, code, rec.lname)
	if !ok || len(dst) == start {
		return dst[:start] // cannot happen: pack wrote it
	}
	dst = append(dst[:len(dst)-1], `,"stock":`...)
	dst = strconv.AppendInt(dst, r.avail, 10)
	return append(dst, '}')
}

// byCode returns the wire-ready goods with barcode code, ordered by gid,
// at most max.
func (d *data) byCode(code []byte, max int) []json.RawMessage {
	var one [1]uint32 // the usual case: one goods per barcode
	rows := one[:0]
	d.codes.rows(d.hash(code), func(i uint32) bool {
		if r := d.rows.at(i); r.alive && bytes.Equal(r.barcode(&d.ar), code) {
			rows = append(rows, i)
		}
		return true
	})
	if len(rows) > 1 {
		slices.SortFunc(rows, func(x, y uint32) int { return bytes.Compare(d.gidOf(x), d.gidOf(y)) })
	}
	out := make([]json.RawMessage, 0, min(len(rows), max))
	for _, i := range rows[:min(len(rows), max)] {
		out = append(out, d.appendGoods(nil, i))
	}
	return out
}

// byGID returns the wire-ready goods gid, if it exists.
func (d *data) byGID(gid []byte) []json.RawMessage {
	if i, ok := d.row(gid, false); ok && d.rows.at(i).alive {
		return []json.RawMessage{d.appendGoods(nil, i)}
	}
	return nil
}

// find is the position of gid in the sorted xs, or where it would go.
func (d *data) find(xs []uint32, gid []byte) (int, bool) {
	i := sort.Search(len(xs), func(i int) bool { return bytes.Compare(d.gidOf(xs[i]), gid) >= 0 })
	return i, i < len(xs) && bytes.Equal(d.gidOf(xs[i]), gid)
}

func (d *data) insertSorted(xs []uint32, row uint32) []uint32 {
	i, ok := d.find(xs, d.gidOf(row))
	if ok {
		return xs
	}
	return slices.Insert(xs, i, row)
}

func (d *data) removeSorted(xs []uint32, gid []byte) []uint32 {
	if i, ok := d.find(xs, gid); ok {
		return slices.Delete(xs, i, i+1)
	}
	return xs
}

// markScanned notes that the build read stock key k at version ver.
func (d *data) markScanned(k []byte, ver uint64) {
	if n := len(d.stockScan); n > 0 && d.stockScan[n-1].ver == ver {
		d.stockScan[n-1].last = string(k)
		return
	}
	d.stockScan = append(d.stockScan, scanMark{last: string(k), ver: ver})
}

// scannedAt is the version at which the build saw stock key k, present or
// not: 0 when no build read the stock rows.
func (d *data) scannedAt(key string) uint64 {
	if len(d.stockScan) == 0 {
		return 0
	}
	i := sort.Search(len(d.stockScan), func(i int) bool { return d.stockScan[i].last >= key })
	return d.stockScan[min(i, len(d.stockScan)-1)].ver
}

// whNewest reports whether a warehouse list change is newer than what the
// build read and than any change applied to the same stock row, and if so
// records it.
func (d *data) whNewest(op op) bool {
	key := op.wh + "\x00" + op.gid
	// A change the build read has a version below the build's: scan
	// versions end in the largest sequence number a transaction can reach.
	if op.ver < d.scannedAt(key) || op.ver < d.whVer[key] {
		return false
	}
	d.whVer[key] = op.ver
	return true
}

func (d *data) apply(op op) {
	gid := []byte(op.gid)
	switch op.kind {
	case opUpsert:
		if !d.current(gid, op.ver) {
			return // a newer change of this goods arrived first
		}
		i, _ := d.row(gid, true)
		d.gids = d.insertSorted(d.gids, i)
		d.setGoods(i, op.raw, []byte(op.code), []byte(op.lname), op.ver, false)
	case opStock:
		d.stock(gid, op.avail, op.ver)
	case opRemove:
		i, ok := d.row(gid, false)
		if !ok || op.ver < d.rows.at(i).goodsVer {
			return
		}
		r := d.rows.at(i)
		r.goodsVer, r.alive = op.ver, false
		d.gids = d.removeSorted(d.gids, gid)
		for wh, xs := range d.byWH {
			d.byWH[wh] = d.removeSorted(xs, gid)
		}
	case opAddWH:
		if !d.whNewest(op) || d.removedSince(gid, op.ver) {
			return
		}
		i, _ := d.row(gid, true)
		d.byWH[op.wh] = d.insertSorted(d.byWH[op.wh], i)
	case opRemoveWH:
		if !d.whNewest(op) {
			return
		}
		d.byWH[op.wh] = d.removeSorted(d.byWH[op.wh], gid)
	}
}

// page returns the gids at [ost, ost+lmt) of the catalog (wh == "") or of
// a warehouse, and the total.
func (d *data) page(wh string, ost, lmt int) ([]string, int) {
	xs := d.gids
	if wh != "" {
		xs = d.byWH[wh]
	}
	total := len(xs)
	if ost >= total || lmt <= 0 {
		return nil, total
	}
	end := min(ost+lmt, total)
	out := make([]string, 0, end-ost)
	for _, i := range xs[ost:end] {
		out = append(out, string(d.gidOf(i)))
	}
	return out, total
}

// maxSingleRuneScan bounds the work of a one-character query, which the
// bigram index cannot answer: it stops after this many rows.
const maxSingleRuneScan = 200000

func (d *data) search(q string, limit int) []string {
	q = strings.TrimSpace(q)
	if q == "" || limit <= 0 {
		return nil
	}
	qb := []byte(q)
	var out []string
	var seen []uint32
	match := func(i uint32) bool {
		r := d.rows.at(i)
		if !r.alive {
			return true
		}
		// A row listed twice (renamed away and back) is reported once.
		if rec := d.ar.getRecord(r.rec); bytes.Contains(rec.lname, qb) && !slices.Contains(seen, i) {
			out = append(out, string(rec.gid))
			seen = append(seen, i)
		}
		return len(out) < limit
	}
	if utf8.RuneCountInString(q) < 2 {
		for i := uint32(0); i < d.rows.n && i < maxSingleRuneScan && match(i); i++ {
		}
		return out
	}
	// The rarest bigram's list is the candidate set.
	var best uint64
	bestN := -1
	bigrams(qb, func(k uint64) {
		if n := d.names.count(k); bestN < 0 || n < bestN {
			best, bestN = k, n
		}
	})
	if bestN <= 0 {
		return nil
	}
	d.names.rows(best, match)
	return out
}
