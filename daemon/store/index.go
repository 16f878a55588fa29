package store

import (
	"bytes"
	"errors"
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
type catalogIndex struct {
	mu       sync.RWMutex
	gids     []string            // all goods, sorted
	byWH     map[string][]string // warehouse → gids with a stock row, sorted
	names    *nameIndex
	building bool
	pending  []indexOp
	ready    chan struct{} // closed when the current build is done
}

type opKind uint8

const (
	opUpsert opKind = iota
	opRemove
	opAddWH
	opRemoveWH
)

type indexOp struct {
	kind           opKind
	gid, lname, wh string
}

func newCatalogIndex() *catalogIndex {
	ready := make(chan struct{})
	close(ready)
	n := newNameIndex()
	return &catalogIndex{byWH: map[string][]string{}, names: &n, ready: ready}
}

// rebuildIndexes starts a background rebuild from the store.
func (s *Store) rebuildIndexes() error {
	ci := s.idx
	ready := make(chan struct{})
	ci.mu.Lock()
	ci.building, ci.pending, ci.ready = true, nil, ready
	ci.mu.Unlock()
	go s.buildIndexes(ready)
	return nil
}

// scanChunks walks a bucket in short read transactions: a long one would
// pin pages and grow the file while the store is in use.
func (s *Store) scanChunks(bucket []byte, fn func(k, v []byte)) error {
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
				fn(k, v)
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
	fresh := &catalogIndex{byWH: map[string][]string{}}
	n := newNameIndex()
	fresh.names = &n
	err := s.scanChunks(bktNames, func(k, v []byte) {
		gid := string(k)
		fresh.gids = append(fresh.gids, gid)
		n.add(gid, string(v))
	})
	if err == nil {
		err = s.scanChunks(bktStock, func(k, _ []byte) {
			if wh, gid, ok := bytes.Cut(k, []byte{0}); ok {
				fresh.byWH[string(wh)] = append(fresh.byWH[string(wh)], string(gid))
			}
		})
	}
	if err != nil && !errors.Is(err, bbolt.ErrDatabaseNotOpen) {
		s.log.Error("building catalog index; lookups by page and name will be empty", "err", err)
	}
	ci := s.idx
	ci.mu.Lock()
	defer ci.mu.Unlock()
	if ci.ready != ready {
		return // a newer build superseded this one
	}
	for _, op := range ci.pending {
		fresh.apply(op)
	}
	ci.gids, ci.byWH, ci.names = fresh.gids, fresh.byWH, fresh.names
	ci.building, ci.pending = false, nil
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
	if ci.building {
		ci.pending = append(ci.pending, op)
	} else {
		ci.apply(op)
	}
	ci.mu.Unlock()
}

func (ci *catalogIndex) apply(op indexOp) {
	switch op.kind {
	case opUpsert:
		ci.gids = insertSorted(ci.gids, op.gid)
		ci.names.add(op.gid, op.lname)
	case opRemove:
		ci.gids = removeSorted(ci.gids, op.gid)
		for wh, xs := range ci.byWH {
			ci.byWH[wh] = removeSorted(xs, op.gid)
		}
		ci.names.remove(op.gid)
	case opAddWH:
		ci.byWH[op.wh] = insertSorted(ci.byWH[op.wh], op.gid)
	case opRemoveWH:
		ci.byWH[op.wh] = removeSorted(ci.byWH[op.wh], op.gid)
	}
}

func insertSorted(xs []string, x string) []string {
	i := sort.SearchStrings(xs, x)
	if i < len(xs) && xs[i] == x {
		return xs
	}
	xs = append(xs, "")
	copy(xs[i+1:], xs[i:])
	xs[i] = x
	return xs
}

func removeSorted(xs []string, x string) []string {
	i := sort.SearchStrings(xs, x)
	if i < len(xs) && xs[i] == x {
		return append(xs[:i], xs[i+1:]...)
	}
	return xs
}

func (ci *catalogIndex) upsert(gid, lname string) {
	ci.change(indexOp{kind: opUpsert, gid: gid, lname: lname})
}
func (ci *catalogIndex) remove(gid string) { ci.change(indexOp{kind: opRemove, gid: gid}) }
func (ci *catalogIndex) addWarehouseGID(wh, gid string) {
	ci.change(indexOp{kind: opAddWH, wh: wh, gid: gid})
}
func (ci *catalogIndex) removeWarehouseGID(wh, gid string) {
	ci.change(indexOp{kind: opRemoveWH, wh: wh, gid: gid})
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
	return append([]string(nil), xs[ost:end]...), total
}

func (ci *catalogIndex) count() int {
	ci.rlockReady()
	defer ci.mu.RUnlock()
	return len(ci.gids)
}

func (ci *catalogIndex) search(q string, limit int) []string {
	ci.rlockReady()
	defer ci.mu.RUnlock()
	return ci.names.search(q, limit)
}

// nameIndex maps each pair of adjacent runes of a lower-cased name to the
// documents containing it. Documents are append-only with tombstones, so an
// update never rewrites posting lists; candidates are verified against the
// stored name, so the index only has to be a superset.
type nameIndex struct {
	docs     []nameDoc
	byGID    map[string]uint32
	postings map[uint64][]uint32
	dead     int
}

type nameDoc struct {
	gid   string
	lname string
	alive bool
}

func newNameIndex() nameIndex {
	return nameIndex{byGID: map[string]uint32{}, postings: map[uint64][]uint32{}}
}

func bigramKey(a, b rune) uint64 { return uint64(a)<<32 | uint64(uint32(b)) }

func (n *nameIndex) add(gid, lname string) {
	if id, ok := n.byGID[gid]; ok {
		if n.docs[id].lname == lname {
			return
		}
		n.docs[id].alive = false
		n.dead++
	}
	id := uint32(len(n.docs))
	n.docs = append(n.docs, nameDoc{gid: gid, lname: lname, alive: true})
	n.byGID[gid] = id
	var prev rune = -1
	for _, r := range lname {
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

func (n *nameIndex) remove(gid string) {
	if id, ok := n.byGID[gid]; ok {
		n.docs[id].alive = false
		n.dead++
		delete(n.byGID, gid)
	}
}

// maxSingleRuneScan bounds the work of a one-character query, which the
// bigram index cannot answer: it stops after this many names.
const maxSingleRuneScan = 200000

func (n *nameIndex) search(q string, limit int) []string {
	q = strings.TrimSpace(q)
	if q == "" || limit <= 0 {
		return nil
	}
	var out []string
	if utf8.RuneCountInString(q) < 2 {
		for i := 0; i < len(n.docs) && i < maxSingleRuneScan && len(out) < limit; i++ {
			d := &n.docs[i]
			if d.alive && strings.Contains(d.lname, q) {
				out = append(out, d.gid)
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
		if d.alive && strings.Contains(d.lname, q) {
			out = append(out, d.gid)
			if len(out) >= limit {
				break
			}
		}
	}
	return out
}
