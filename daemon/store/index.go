package store

import (
	"bytes"
	"errors"
	"hash/maphash"
	"sort"
	"strings"
	"sync"
	"unicode/utf8"

	"go.etcd.io/bbolt"
)

// catalogIndex keeps what bbolt cannot answer cheaply: the gid at an offset
// (paging that does not slow down as ost grows) and names by character
// bigram (substring search without scanning the catalog).
//
// It is built in the background at open and after an import, so the daemon
// is ready in well under a second whatever the catalog's size; lookups that
// need it wait for the build (about two seconds per million goods). Changes
// made during a build are logged and replayed onto the new index.
//
// Every gid and name lives in one byte arena and is referred to by offset,
// so the index holds no Go pointers per goods: with a million goods, the
// garbage collector would otherwise mark millions of strings on every
// cycle, a 100–250 ms pause-free but CPU-heavy phase every second under
// load that showed in request latency tails.
type catalogIndex struct {
	mu   sync.RWMutex
	ar   arena
	gids []sref            // all goods, sorted by gid
	byWH map[string][]sref // warehouse → gids with a stock row, sorted
	// A stock row's coming and going reaches byWH through hooks, which can
	// arrive out of commit order; whVer keeps the version of the newest
	// change applied per warehouse and gid, and stockScan the versions at
	// which the build read the stock rows, so an older change is dropped.
	whVer     map[string]uint64
	stockScan []scanMark
	names     *nameIndex
	goods     *goodsTable
	building  bool // readers wait: the index is stale until the build is done
	// compacting: a build runs to drop what changes left behind in the
	// arena, while this index stays current and keeps serving.
	compacting bool
	pending    []indexOp
	ready      chan struct{} // closed when the current build is done
	// builtSize is the arena's size after the last build; compact is
	// called (once) when the arena has grown past twice that plus
	// bloatSlack, since every change appends and nothing is freed.
	builtSize  int
	bloatSlack int
	compact    func()
}

// scanMark says the build read the keys up to and including last (after
// the previous mark's) at version ver; the final mark also covers every
// key after it.
type scanMark struct {
	last string
	ver  uint64
}

type opKind uint8

const (
	opUpsert opKind = iota
	opRemove
	opAddWH
	opRemoveWH
	opStock
)

type indexOp struct {
	kind                 opKind
	gid, lname, wh, code string
	raw                  []byte
	avail                int64
	ver                  uint64 // the write transaction's id
}

func newCatalogIndex() *catalogIndex {
	ready := make(chan struct{})
	close(ready)
	return &catalogIndex{byWH: map[string][]sref{}, whVer: map[string]uint64{}, names: newNameIndex(), goods: newGoodsTable(), ready: ready, bloatSlack: 64 << 20}
}

// rebuildIndexes starts a background rebuild from the store; lookups that
// need the index wait for it (the store changed in bulk underneath).
func (s *Store) rebuildIndexes() error {
	ci := s.idx
	ready := make(chan struct{})
	ci.mu.Lock()
	ci.building, ci.compacting, ci.pending, ci.ready = true, false, nil, ready
	ci.mu.Unlock()
	go s.buildIndexes(ready)
	return nil
}

// compactIndexes rebuilds the index in the background while the current
// one keeps serving; changes go to both and the new one replaces it.
func (s *Store) compactIndexes() {
	ci := s.idx
	ready := make(chan struct{})
	ci.mu.Lock()
	if ci.building {
		ci.mu.Unlock()
		return // a full build is under way anyway
	}
	ci.compacting, ci.pending, ci.ready = true, nil, ready
	ci.mu.Unlock()
	s.log.Info("compacting the catalog index", "arena_bytes", ci.arenaSize())
	s.buildIndexes(ready)
}

func (ci *catalogIndex) arenaSize() int {
	ci.mu.RLock()
	defer ci.mu.RUnlock()
	return ci.ar.size
}

// scanChunks walks a bucket in short read transactions: a long one would
// pin pages and grow the file while the store is in use.
// fn gets the id of the read transaction the entry was read in.
func (s *Store) scanChunks(bucket []byte, fn func(k, v []byte, ver uint64)) error {
	var after []byte
	for done := false; !done; {
		err := s.db.View(func(tx *bbolt.Tx) error {
			c := tx.Bucket(bucket).Cursor()
			var k, v []byte
			if after == nil {
				k, v = c.First()
			} else if k, v = c.Seek(after); k != nil && bytes.Equal(k, after) {
				k, v = c.Next()
			}
			for i := 0; i < 50000; i++ {
				if k == nil {
					done = true
					return nil
				}
				fn(k, v, scanVersion(tx))
				after = append(after[:0], k...)
				k, v = c.Next()
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) buildIndexes(ready chan struct{}) {
	fresh := &catalogIndex{byWH: map[string][]sref{}, whVer: map[string]uint64{}, names: newNameIndex(), goods: newGoodsTable()}
	// Goods before names: a change replayed from pending is dropped when
	// the goods scan already saw something newer (goodsTable.current), and
	// the names scan, coming later, then saw at least as much.
	err := s.scanChunks(bktGoods, func(k, v []byte, ver uint64) {
		fresh.goods.upsert(&fresh.ar, k, v, "", ver)
	})
	if err == nil {
		err = s.scanChunks(bktNames, func(k, v []byte, _ uint64) {
			// Keys arrive sorted: appending keeps gids sorted.
			g := fresh.ar.put(k)
			fresh.gids = append(fresh.gids, g)
			fresh.names.add(&fresh.ar, g, v)
		})
	}
	if err == nil {
		err = s.scanChunks(bktBarcode, func(k, _ []byte, ver uint64) {
			if code, gid, ok := bytes.Cut(k, []byte{0}); ok {
				fresh.goods.setCode(&fresh.ar, gid, code, ver)
			}
		})
	}
	if err == nil {
		err = s.scanChunks(bktStock, func(k, v []byte, ver uint64) {
			fresh.markScanned(k, ver)
			if wh, gid, ok := bytes.Cut(k, []byte{0}); ok {
				fresh.byWH[string(wh)] = append(fresh.byWH[string(wh)], fresh.ref(gid))
				if string(wh) == s.warehouse {
					fresh.goods.stock(&fresh.ar, gid, decodeStock(v).Available(), ver)
				}
			}
		})
	}
	ci := s.idx
	ci.mu.Lock()
	defer ci.mu.Unlock()
	if ci.ready != ready {
		return // a newer build superseded this one
	}
	if err != nil && ci.compacting {
		// The current index is complete: keep it rather than a partial one.
		s.log.Warn("compacting the catalog index failed; keeping the current one", "err", err)
		ci.compacting, ci.pending, ci.builtSize = false, nil, ci.ar.size
		close(ready)
		return
	}
	if err != nil && !errors.Is(err, bbolt.ErrDatabaseNotOpen) {
		s.log.Error("building catalog index; lookups by page and name will be empty", "err", err)
	}
	for _, op := range ci.pending {
		fresh.apply(op)
	}
	ci.ar, ci.gids, ci.byWH, ci.names, ci.goods = fresh.ar, fresh.gids, fresh.byWH, fresh.names, fresh.goods
	ci.whVer, ci.stockScan = fresh.whVer, fresh.stockScan
	ci.building, ci.compacting, ci.pending, ci.builtSize = false, false, nil, fresh.ar.size
	close(ready)
}

// rlockReady waits for any build and returns with the read lock held.
func (ci *catalogIndex) rlockReady() {
	for {
		ci.mu.RLock()
		if !ci.building {
			return
		}
		ready := ci.ready
		ci.mu.RUnlock()
		<-ready
	}
}

// WaitIndexed blocks until the catalog index is built (tests, benchmarks).
func (s *Store) WaitIndexed() {
	s.idx.rlockReady()
	s.idx.mu.RUnlock()
}

func (ci *catalogIndex) change(op indexOp) {
	ci.mu.Lock()
	switch {
	case ci.building:
		ci.pending = append(ci.pending, op)
	case ci.compacting:
		ci.pending = append(ci.pending, op)
		ci.apply(op)
	default:
		ci.apply(op)
		if ci.compact != nil && ci.ar.size > 2*ci.builtSize+ci.bloatSlack {
			ci.compacting = true // until compactIndexes takes over: ask once
			go ci.compact()
		}
	}
	ci.mu.Unlock()
}

func (ci *catalogIndex) apply(op indexOp) {
	switch op.kind {
	case opUpsert:
		if !ci.goods.current(&ci.ar, []byte(op.gid), op.ver) {
			return // a newer change of this goods arrived first
		}
		g := ci.ref([]byte(op.gid))
		ci.gids = ci.insertSorted(ci.gids, g)
		ci.names.add(&ci.ar, g, []byte(op.lname))
		ci.goods.upsert(&ci.ar, []byte(op.gid), op.raw, op.code, op.ver)
	case opStock:
		ci.goods.stock(&ci.ar, []byte(op.gid), op.avail, op.ver)
	case opRemove:
		if !ci.goods.current(&ci.ar, []byte(op.gid), op.ver) {
			return
		}
		ci.goods.remove(&ci.ar, []byte(op.gid), op.ver)
		ci.gids = ci.removeSorted(ci.gids, op.gid)
		for wh, xs := range ci.byWH {
			ci.byWH[wh] = ci.removeSorted(xs, op.gid)
		}
		ci.names.remove(&ci.ar, op.gid)
	case opAddWH:
		if !ci.whNewest(op) || ci.goods.removedSince(&ci.ar, []byte(op.gid), op.ver) {
			return
		}
		ci.byWH[op.wh] = ci.insertSorted(ci.byWH[op.wh], ci.ref([]byte(op.gid)))
	case opRemoveWH:
		if !ci.whNewest(op) {
			return
		}
		ci.byWH[op.wh] = ci.removeSorted(ci.byWH[op.wh], op.gid)
	}
}

// whNewest reports whether a warehouse list change is newer than what the
// build read and than any change applied to the same stock row, and if so
// records it.
func (ci *catalogIndex) whNewest(op indexOp) bool {
	key := op.wh + "\x00" + op.gid
	// A change the build read has a version below the build's: scan
	// versions end in the largest sequence number a transaction can reach.
	if op.ver < ci.scannedAt(key) || op.ver < ci.whVer[key] {
		return false
	}
	ci.whVer[key] = op.ver
	return true
}

// markScanned notes that the build read stock key k at version ver.
func (ci *catalogIndex) markScanned(k []byte, ver uint64) {
	if n := len(ci.stockScan); n > 0 && ci.stockScan[n-1].ver == ver {
		ci.stockScan[n-1].last = string(k)
		return
	}
	ci.stockScan = append(ci.stockScan, scanMark{last: string(k), ver: ver})
}

// scannedAt is the version at which the build saw stock key k, present or
// not: 0 when no build read the stock rows.
func (ci *catalogIndex) scannedAt(key string) uint64 {
	if len(ci.stockScan) == 0 {
		return 0
	}
	i := sort.Search(len(ci.stockScan), func(i int) bool { return ci.stockScan[i].last >= key })
	return ci.stockScan[min(i, len(ci.stockScan)-1)].ver
}

// ref returns the arena reference of gid, adding it if it is not in the
// catalog yet.
func (ci *catalogIndex) ref(gid []byte) sref {
	if i, ok := ci.find(ci.gids, string(gid)); ok {
		return ci.gids[i]
	}
	return ci.ar.put(gid)
}

// find is the position of gid in the sorted xs, or where it would go.
func (ci *catalogIndex) find(xs []sref, gid string) (int, bool) {
	i := sort.Search(len(xs), func(i int) bool { return string(ci.ar.view(xs[i])) >= gid })
	return i, i < len(xs) && string(ci.ar.view(xs[i])) == gid
}

func (ci *catalogIndex) insertSorted(xs []sref, g sref) []sref {
	i, ok := ci.find(xs, string(ci.ar.view(g)))
	if ok {
		return xs
	}
	xs = append(xs, 0)
	copy(xs[i+1:], xs[i:])
	xs[i] = g
	return xs
}

func (ci *catalogIndex) removeSorted(xs []sref, gid string) []sref {
	if i, ok := ci.find(xs, gid); ok {
		return append(xs[:i], xs[i+1:]...)
	}
	return xs
}

func (ci *catalogIndex) upsert(gid, lname string, raw []byte, code string, ver uint64) {
	ci.change(indexOp{kind: opUpsert, gid: gid, lname: lname, raw: raw, code: code, ver: ver})
}
func (ci *catalogIndex) remove(gid string, ver uint64) {
	ci.change(indexOp{kind: opRemove, gid: gid, ver: ver})
}

// stock records the selling warehouse's available stock of gid.
func (ci *catalogIndex) stock(gid string, avail int64, ver uint64) {
	ci.change(indexOp{kind: opStock, gid: gid, avail: avail, ver: ver})
}
func (ci *catalogIndex) addWarehouseGID(wh, gid string, ver uint64) {
	ci.change(indexOp{kind: opAddWH, wh: wh, gid: gid, ver: ver})
}
func (ci *catalogIndex) removeWarehouseGID(wh, gid string, ver uint64) {
	ci.change(indexOp{kind: opRemoveWH, wh: wh, gid: gid, ver: ver})
}

// page returns the gids at [ost, ost+lmt) of the catalog (wh == "") or of
// a warehouse, and the total.
func (ci *catalogIndex) page(wh string, ost, lmt int) ([]string, int) {
	ci.rlockReady()
	defer ci.mu.RUnlock()
	xs := ci.gids
	if wh != "" {
		xs = ci.byWH[wh]
	}
	total := len(xs)
	if ost >= total || lmt <= 0 {
		return nil, total
	}
	end := min(ost+lmt, total)
	out := make([]string, 0, end-ost)
	for _, g := range xs[ost:end] {
		out = append(out, ci.ar.str(g))
	}
	return out, total
}

func (ci *catalogIndex) count() int {
	ci.rlockReady()
	defer ci.mu.RUnlock()
	return len(ci.gids)
}

func (ci *catalogIndex) search(q string, limit int) []string {
	ci.rlockReady()
	defer ci.mu.RUnlock()
	return ci.names.search(&ci.ar, q, limit)
}

// arena keeps strings back to back in fixed-size chunks; an sref is a
// string's chunk, offset and length. Chunks are never copied or grown, so
// a million goods build without the transient doubling of one big slice,
// and hold no pointers for the collector to mark. The arena only grows: a
// rebuild (at open, after an import) starts a fresh one.
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

func (a *arena) put(s []byte) sref {
	if len(s) >= 1<<srefLenBits {
		s = s[:1<<srefLenBits-1] // names and gids are far shorter; never split a reference
	}
	n := len(a.chunks)
	if n == 0 || len(a.chunks[n-1])+len(s) > cap(a.chunks[n-1]) {
		a.chunks = append(a.chunks, make([]byte, 0, max(arenaChunk, len(s))))
		n++
	}
	c := &a.chunks[n-1]
	off := len(*c)
	*c = append(*c, s...)
	a.size += len(s)
	return sref(uint64(n-1)<<(srefOffBits+srefLenBits) | uint64(off)<<srefLenBits | uint64(len(s)))
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

func (a *arena) str(r sref) string { return string(a.view(r)) }

// gidMap finds a slot (a document, a row) by gid through the gid's hash,
// so no map holds a string per goods; the rare gids whose hash another gid
// already has go to collide. A gid is in exactly one of the two. gidAt
// returns the gid stored at a slot, to tell a gid from its hash twin.
type gidMap struct {
	byHash  map[uint64]uint32
	collide map[string]uint32
	hash    func([]byte) uint64
}

func newGIDMap() gidMap {
	seed := maphash.MakeSeed()
	return gidMap{byHash: map[uint64]uint32{}, collide: map[string]uint32{},
		hash: func(b []byte) uint64 { return maphash.Bytes(seed, b) }}
}

func (m *gidMap) get(gid []byte, gidAt func(uint32) []byte) (uint32, bool) {
	if len(m.collide) > 0 {
		if i, ok := m.collide[string(gid)]; ok {
			return i, true
		}
	}
	i, ok := m.byHash[m.hash(gid)]
	if ok && bytes.Equal(gidAt(i), gid) {
		return i, true
	}
	return 0, false
}

func (m *gidMap) set(gid []byte, slot uint32, gidAt func(uint32) []byte) {
	if _, ok := m.collide[string(gid)]; ok {
		m.collide[string(gid)] = slot
		return
	}
	h := m.hash(gid)
	if old, ok := m.byHash[h]; ok && !bytes.Equal(gidAt(old), gid) {
		m.collide[string(gid)] = slot
		return
	}
	m.byHash[h] = slot
}

func (m *gidMap) drop(gid []byte) {
	if _, ok := m.collide[string(gid)]; ok {
		delete(m.collide, string(gid))
		return
	}
	delete(m.byHash, m.hash(gid))
}

// nameIndex maps each pair of adjacent runes of a lower-cased name to the
// documents containing it. Documents are append-only with tombstones, so an
// update never rewrites posting lists; candidates are verified against the
// stored name, so the index only has to be a superset.
type nameIndex struct {
	docs     []nameDoc
	ids      gidMap // gid → its live document
	postings map[uint64][]uint32
	dead     int
}

type nameDoc struct {
	gid, lname sref
	alive      bool
}

func newNameIndex() *nameIndex {
	return &nameIndex{ids: newGIDMap(), postings: map[uint64][]uint32{}}
}

func bigramKey(a, b rune) uint64 { return uint64(a)<<32 | uint64(uint32(b)) }

// doc finds the live document of gid.
func (n *nameIndex) doc(a *arena, gid []byte) (uint32, bool) {
	return n.ids.get(gid, func(i uint32) []byte { return a.view(n.docs[i].gid) })
}

func (n *nameIndex) add(a *arena, gid sref, lname []byte) {
	g := a.view(gid)
	if id, ok := n.doc(a, g); ok {
		if string(a.view(n.docs[id].lname)) == string(lname) {
			return
		}
		n.docs[id].alive = false
		n.dead++
	}
	id := uint32(len(n.docs))
	n.docs = append(n.docs, nameDoc{gid: gid, lname: a.put(lname), alive: true})
	n.ids.set(g, id, func(i uint32) []byte { return a.view(n.docs[i].gid) })
	var prev rune = -1
	for _, r := range string(lname) {
		if prev >= 0 {
			k := bigramKey(prev, r)
			p := n.postings[k]
			if len(p) == 0 || p[len(p)-1] != id {
				n.postings[k] = append(p, id)
			}
		}
		prev = r
	}
}

func (n *nameIndex) remove(a *arena, gid string) {
	if id, ok := n.doc(a, []byte(gid)); ok {
		n.docs[id].alive = false
		n.dead++
		n.ids.drop([]byte(gid))
	}
}

// maxSingleRuneScan bounds the work of a one-character query, which the
// bigram index cannot answer: it stops after this many names.
const maxSingleRuneScan = 200000

func (n *nameIndex) search(a *arena, q string, limit int) []string {
	q = strings.TrimSpace(q)
	if q == "" || limit <= 0 {
		return nil
	}
	var out []string
	qb := []byte(q)
	if utf8.RuneCountInString(q) < 2 {
		for i := 0; i < len(n.docs) && i < maxSingleRuneScan && len(out) < limit; i++ {
			d := &n.docs[i]
			if d.alive && bytes.Contains(a.view(d.lname), qb) {
				out = append(out, a.str(d.gid))
			}
		}
		return out
	}
	// Pick the rarest bigram's posting list as the candidate set.
	var best []uint32
	found := false
	var prev rune = -1
	for _, r := range q {
		if prev >= 0 {
			p := n.postings[bigramKey(prev, r)]
			if len(p) == 0 {
				return nil
			}
			if !found || len(p) < len(best) {
				best, found = p, true
			}
		}
		prev = r
	}
	for _, id := range best {
		d := &n.docs[id]
		if d.alive && bytes.Contains(a.view(d.lname), qb) {
			out = append(out, a.str(d.gid))
			if len(out) >= limit {
				break
			}
		}
	}
	return out
}
