package catalogindex

import (
	"encoding/binary"
	"unicode/utf8"
)

// nameIndex maps each pair of adjacent runes of a lower-cased name to the
// rows whose name has it. The build's lists are frozen into one block of
// delta-encoded row numbers (rows are made in gid order, so neighbours are
// close and most deltas take a byte); names given after the build go to
// small lists beside them. Lists only grow: a search verifies each
// candidate against the row's current name, so they only have to be a
// superset, and a row may appear twice (renamed away and back).
type nameIndex struct {
	frozen map[uint64]posting
	block  []byte // mapAnon; frozen lists
	added  map[uint64][]uint32
	// building collects the build's lists until freeze.
	building map[uint64]*growing
}

type posting struct{ off, len, n uint32 }

type growing struct {
	buf  []byte
	last uint32
	n    uint32
}

func newNameIndex() *nameIndex {
	return &nameIndex{frozen: map[uint64]posting{}, added: map[uint64][]uint32{}, building: map[uint64]*growing{}}
}

func bigramKey(a, b rune) uint64 { return uint64(a)<<32 | uint64(uint32(b)) }

// bigrams calls f with each distinct-from-the-previous bigram of s.
func bigrams(s []byte, f func(uint64)) {
	var prev rune = -1
	var last uint64
	first := true
	for len(s) > 0 {
		r, n := utf8.DecodeRune(s)
		s = s[n:]
		if prev >= 0 {
			k := bigramKey(prev, r)
			if first || k != last {
				f(k)
			}
			first, last = false, k
		}
		prev = r
	}
}

// addBuilt lists row under lname's bigrams during the build; rows come in
// increasing order.
func (n *nameIndex) addBuilt(row uint32, lname []byte) {
	bigrams(lname, func(k uint64) {
		g := n.building[k]
		if g == nil {
			g = &growing{}
			n.building[k] = g
		} else if g.n > 0 && g.last == row {
			return
		}
		delta := row
		if g.n > 0 {
			delta = row - g.last
		}
		g.buf = binary.AppendUvarint(g.buf, uint64(delta))
		g.last = row
		g.n++
	})
}

// freeze moves the build's lists into one block.
func (n *nameIndex) freeze() {
	total := 0
	for _, g := range n.building {
		total += len(g.buf)
	}
	if total > 0 {
		n.block = mapAnon(total)
	}
	off := 0
	for k, g := range n.building {
		copy(n.block[off:], g.buf)
		n.frozen[k] = posting{off: uint32(off), len: uint32(len(g.buf)), n: g.n}
		off += len(g.buf)
	}
	n.building = nil
}

// add lists row under lname's bigrams after the build.
func (n *nameIndex) add(row uint32, lname []byte) {
	bigrams(lname, func(k uint64) {
		p := n.added[k]
		if len(p) == 0 || p[len(p)-1] != row {
			n.added[k] = append(p, row)
		}
	})
}

// count is how many rows are listed under k.
func (n *nameIndex) count(k uint64) int { return int(n.frozen[k].n) + len(n.added[k]) }

// rows calls f with the rows listed under k until f returns false.
func (n *nameIndex) rows(k uint64, f func(uint32) bool) {
	if p, ok := n.frozen[k]; ok {
		b := n.block[p.off : p.off+p.len]
		var row uint32
		for i := uint32(0); i < p.n; i++ {
			d, w := binary.Uvarint(b)
			b = b[w:]
			if i == 0 {
				row = uint32(d)
			} else {
				row += uint32(d)
			}
			if !f(row) {
				return
			}
		}
	}
	for _, row := range n.added[k] {
		if !f(row) {
			return
		}
	}
}

func (n *nameIndex) free() {
	unmap(n.block)
	n.block, n.frozen = nil, nil
}
