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
type catalogIndex struct {
	mu    sync.RWMutex
	gids  []string            // all goods, sorted
	byWH  map[string][]string // warehouse → gids with a stock row, sorted
	names *nameIndex          // nil while being built
	// While the name index is built in the background, changes are logged
	// here and replayed onto it, so start-up does not wait for it.
	pending    []nameOp
	namesReady chan struct{}
}

type nameOp struct {
	gid, lname string
	remove     bool
}

func newCatalogIndex() *catalogIndex {
	ready := make(chan struct{})
	close(ready)
	n := newNameIndex()
	return &catalogIndex{byWH: map[string][]string{}, names: &n, namesReady: ready}
}

// rebuildIndexes reloads the paging indexes now and the name index in the
// background (a million names take about a second; ready must not).
func (s *Store) rebuildIndexes() error {
	var gids []string
	byWH := map[string][]string{}
	err := s.db.View(func(tx *bbolt.Tx) error {
		c := tx.Bucket(bktGoods).Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			gids = append(gids, string(k))
		}
		sc := tx.Bucket(bktStock).Cursor()
		for k, _ := sc.First(); k != nil; k, _ = sc.Next() {
			wh, gid, ok := bytes.Cut(k, []byte{0})
			if !ok {
				continue
			}
			byWH[string(wh)] = append(byWH[string(wh)], string(gid))
		}
		return nil
	})
	if err != nil {
		return err
	}
	ci := s.idx
	ready := make(chan struct{})
	ci.mu.Lock()
	ci.gids, ci.byWH = gids, byWH
	ci.names, ci.pending, ci.namesReady = nil, nil, ready
	ci.mu.Unlock()
	go s.buildNameIndex(ready)
	return nil
}

func (s *Store) buildNameIndex(ready chan struct{}) {
	n := newNameIndex()
	var after []byte
	for done := false; !done; {
		// Short read transactions: a long one would pin pages and grow the file.
		err := s.db.View(func(tx *bbolt.Tx) error {
			c := tx.Bucket(bktNames).Cursor()
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
				n.add(string(k), string(v))
				after = append(after[:0], k...)
				k, v = c.Next()
			}
			return nil
		})
		if err != nil {
			if errors.Is(err, bbolt.ErrDatabaseNotOpen) {
				return
			}
			s.log.Error("building name index", "err", err)
			return
		}
	}
	ci := s.idx
	ci.mu.Lock()
	if ci.namesReady == ready {
		for _, op := range ci.pending {
			if op.remove {
				n.remove(op.gid)
			} else {
				n.add(op.gid, op.lname)
			}
		}
		ci.names, ci.pending = &n, nil
		close(ready)
	}
	ci.mu.Unlock()
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
	ci.mu.Lock()
	ci.gids = insertSorted(ci.gids, gid)
	if ci.names == nil {
		ci.pending = append(ci.pending, nameOp{gid: gid, lname: lname})
	} else {
		ci.names.add(gid, lname)
	}
	ci.mu.Unlock()
}

func (ci *catalogIndex) remove(gid string) {
	ci.mu.Lock()
	ci.gids = removeSorted(ci.gids, gid)
	for wh, xs := range ci.byWH {
		ci.byWH[wh] = removeSorted(xs, gid)
	}
	if ci.names == nil {
		ci.pending = append(ci.pending, nameOp{gid: gid, remove: true})
	} else {
		ci.names.remove(gid)
	}
	ci.mu.Unlock()
}

func (ci *catalogIndex) addWarehouseGID(wh, gid string) {
	ci.mu.Lock()
	ci.byWH[wh] = insertSorted(ci.byWH[wh], gid)
	ci.mu.Unlock()
}

func (ci *catalogIndex) removeWarehouseGID(wh, gid string) {
	ci.mu.Lock()
	ci.byWH[wh] = removeSorted(ci.byWH[wh], gid)
	ci.mu.Unlock()
}

// page returns the gids at [ost, ost+lmt) of the catalog (wh == "") or of
// a warehouse, and the total.
func (ci *catalogIndex) page(wh string, ost, lmt int) ([]string, int) {
	ci.mu.RLock()
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
	ci.mu.RLock()
	defer ci.mu.RUnlock()
	return len(ci.gids)
}

func (ci *catalogIndex) warehouses() []string {
	ci.mu.RLock()
	defer ci.mu.RUnlock()
	out := make([]string, 0, len(ci.byWH))
	for wh, xs := range ci.byWH {
		if len(xs) > 0 {
			out = append(out, wh)
		}
	}
	sort.Strings(out)
	return out
}

// search waits for the name index if it is still being built.
func (ci *catalogIndex) search(q string, limit int) []string {
	for {
		ci.mu.RLock()
		ready := ci.namesReady
		ci.mu.RUnlock()
		<-ready
		ci.mu.RLock()
		if ci.names != nil {
			defer ci.mu.RUnlock()
			return ci.names.search(q, limit)
		}
		ci.mu.RUnlock() // rebuilt again meanwhile: wait for that one
	}
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
