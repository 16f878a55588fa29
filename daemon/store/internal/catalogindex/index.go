// Package catalogindex is the store's in-memory catalog index: getGoods by
// barcode and gid answered from memory (a hash probe, no bbolt descent),
// the gid order for paging that does not slow down as ost grows, each
// warehouse's stocked goods, and names by character bigram for substring
// search. The store feeds it: a build scans the store (Source), and every
// committed change arrives through a transaction hook with its version.
//
// It is built in the background at open and after an import, so the daemon
// is ready in well under a second whatever the catalog's size; lookups that
// need it wait for the build. Changes made during a build are logged and
// replayed onto the new index. Changes carry their write transaction's id
// and a row keeps the newest, because hooks run after bbolt releases its
// writer lock and may arrive out of commit order.
package catalogindex

import (
	"encoding/json"
	"errors"
	"log/slog"
	"runtime/debug"
	"sync"

	berrors "go.etcd.io/bbolt/errors"
)

// Source fills a build from the store.
type Source func(b *Builder) error

// Index is the catalog index; its methods are safe for concurrent use.
type Index struct {
	mu  sync.RWMutex
	d   *data
	src Source
	log *slog.Logger

	building bool // readers wait: the index is stale until the build is done
	// compacting: a build runs to drop what changes left behind in the
	// arena, while this index stays current and keeps serving.
	compacting bool
	pending    []op
	ready      chan struct{} // closed when the current build is done
	// builtSize is the arena's size after the last build; a compaction
	// starts (once) when the arena has grown past twice that plus
	// bloatSlack, since every change appends and nothing is freed.
	builtSize  int
	bloatSlack int
	builds     int
}

type opKind uint8

const (
	opUpsert opKind = iota
	opRemove
	opAddWH
	opRemoveWH
	opStock
)

type op struct {
	kind                 opKind
	gid, lname, wh, code string
	raw                  []byte
	avail                int64
	ver                  uint64 // the write transaction's id, then the change's place in it
}

// New returns an empty, ready index that builds from src.
func New(src Source, log *slog.Logger) *Index {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ready := make(chan struct{})
	close(ready)
	return &Index{d: newData(), src: src, log: log, ready: ready, bloatSlack: 64 << 20}
}

// Rebuild starts a background build from the source; lookups that need
// the index wait for it (the store changed in bulk underneath).
func (ix *Index) Rebuild() {
	ready := make(chan struct{})
	ix.mu.Lock()
	ix.building, ix.compacting, ix.pending, ix.ready = true, false, nil, ready
	ix.mu.Unlock()
	go ix.build(ready)
}

// compact rebuilds in the background while the current index keeps
// serving; changes go to both and the new one replaces it.
func (ix *Index) compact() {
	ready := make(chan struct{})
	ix.mu.Lock()
	if ix.building {
		ix.mu.Unlock()
		return // a full build is under way anyway
	}
	ix.compacting, ix.pending, ix.ready = true, nil, ready
	arena := ix.d.ar.size
	ix.mu.Unlock()
	ix.log.Info("compacting the catalog index", "arena_bytes", arena)
	ix.build(ready)
}

// Builder receives a build's scan of the store. Goods must come in gid
// order, and before stock.
type Builder struct{ d *data }

// Goods adds a goods as stored (its wire JSON minus stock), read at
// version ver. Its barcode and lower-cased name come from the JSON.
func (b *Builder) Goods(gid, raw []byte, ver uint64) {
	d := b.d
	code, name := goodsKeys(raw)
	i, _ := d.row(gid, true)
	d.gids = append(d.gids, i)
	d.setGoods(i, raw, code, lower(name), ver, true)
}

// Stock adds a stock row (key is its store key, wh and gid its parts),
// read at version ver; avail is set for the selling warehouse's rows.
func (b *Builder) Stock(key, wh, gid []byte, selling bool, avail int64, ver uint64) {
	d := b.d
	d.markScanned(key, ver)
	i, _ := d.row(gid, true)
	d.byWH[string(wh)] = append(d.byWH[string(wh)], i)
	if selling {
		d.stock(gid, avail, ver)
	}
}

func (ix *Index) build(ready chan struct{}) {
	fresh := newData()
	err := ix.src(&Builder{d: fresh})
	fresh.names.freeze()
	ix.mu.Lock()
	if ix.ready != ready {
		ix.mu.Unlock()
		fresh.free()
		return // a newer build superseded this one
	}
	if err != nil && ix.compacting {
		// The current index is complete: keep it rather than a partial one.
		ix.log.Warn("compacting the catalog index failed; keeping the current one", "err", err)
		ix.compacting, ix.pending, ix.builtSize = false, nil, ix.d.ar.size
		close(ready)
		ix.mu.Unlock()
		fresh.free()
		return
	}
	if err != nil && !errors.Is(err, berrors.ErrDatabaseNotOpen) {
		ix.log.Error("building catalog index; lookups by page and name will be empty", "err", err)
	}
	for _, op := range ix.pending {
		fresh.apply(op)
	}
	old := ix.d
	ix.d = fresh
	ix.building, ix.compacting, ix.pending, ix.builtSize = false, false, nil, fresh.ar.size
	ix.builds++
	close(ready)
	ix.mu.Unlock()
	// No reader can hold the old generation: they read under the lock
	// and copy what they return.
	old.free()
	// The build's scratch (name lists before freezing, bbolt reads) is
	// garbage now; give it back rather than keep it as heap headroom.
	debug.FreeOSMemory()
}

// rlockReady waits for any build and returns with the read lock held.
func (ix *Index) rlockReady() {
	for {
		ix.mu.RLock()
		if !ix.building {
			return
		}
		ready := ix.ready
		ix.mu.RUnlock()
		<-ready
	}
}

// WaitReady blocks until no build that readers wait for is running.
func (ix *Index) WaitReady() {
	ix.rlockReady()
	ix.mu.RUnlock()
}

func (ix *Index) change(o op) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	switch {
	case ix.building:
		ix.pending = append(ix.pending, o)
	case ix.compacting:
		ix.pending = append(ix.pending, o)
		ix.d.apply(o)
	default:
		ix.d.apply(o)
		if ix.d.ar.size > 2*ix.builtSize+ix.bloatSlack {
			ix.compacting = true // until compact takes over: ask once
			go ix.compact()
		}
	}
}

// Upsert records a goods' new version: its stored JSON, lower-cased name
// and barcode.
func (ix *Index) Upsert(gid, lname string, raw []byte, code string, ver uint64) {
	ix.change(op{kind: opUpsert, gid: gid, lname: lname, raw: raw, code: code, ver: ver})
}

// Remove records a goods' deletion.
func (ix *Index) Remove(gid string, ver uint64) {
	ix.change(op{kind: opRemove, gid: gid, ver: ver})
}

// Stock records the selling warehouse's available stock of gid.
func (ix *Index) Stock(gid string, avail int64, ver uint64) {
	ix.change(op{kind: opStock, gid: gid, avail: avail, ver: ver})
}

// AddWarehouseGID records that wh has a stock row for gid.
func (ix *Index) AddWarehouseGID(wh, gid string, ver uint64) {
	ix.change(op{kind: opAddWH, wh: wh, gid: gid, ver: ver})
}

// RemoveWarehouseGID records that wh's stock row for gid is gone.
func (ix *Index) RemoveWarehouseGID(wh, gid string, ver uint64) {
	ix.change(op{kind: opRemoveWH, wh: wh, gid: gid, ver: ver})
}

// ByBarcode returns the wire-ready goods with this barcode, ordered by
// gid, at most max; ok is false while a build runs (ask the store).
func (ix *Index) ByBarcode(code string, max int) (out []json.RawMessage, ok bool) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if ix.building {
		return nil, false
	}
	return ix.d.byCode([]byte(code), max), true
}

// ByGID returns the wire-ready goods gid (none or one); ok is false while
// a build runs.
func (ix *Index) ByGID(gid string) (out []json.RawMessage, ok bool) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if ix.building {
		return nil, false
	}
	return ix.d.byGID([]byte(gid)), true
}

// Page returns the gids at [ost, ost+lmt) of the catalog (wh == "") or of
// a warehouse, and the total.
func (ix *Index) Page(wh string, ost, lmt int) ([]string, int) {
	ix.rlockReady()
	defer ix.mu.RUnlock()
	return ix.d.page(wh, ost, lmt)
}

// Count is the number of goods.
func (ix *Index) Count() int {
	ix.rlockReady()
	defer ix.mu.RUnlock()
	return len(ix.d.gids)
}

// Search returns up to limit gids whose lower-cased name contains q.
func (ix *Index) Search(q string, limit int) []string {
	ix.rlockReady()
	defer ix.mu.RUnlock()
	return ix.d.search(q, limit)
}

// Stats describes the index's size.
type Stats struct {
	Rows       int
	ArenaBytes int // records and long barcodes put in the arena
	BuiltBytes int // the arena after the last build
	Builds     int
	// Mapped memory, outside the Go heap, by part.
	ArenaMapped, RowsMapped, TablesMapped, NamesMapped int
}

// MappedBytes is all the index's memory outside the Go heap.
func (s Stats) MappedBytes() int {
	return s.ArenaMapped + s.RowsMapped + s.TablesMapped + s.NamesMapped
}

// Stats reports the index's current size.
func (ix *Index) Stats() Stats {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	d := ix.d
	st := Stats{Rows: int(d.rows.n), ArenaBytes: d.ar.size, BuiltBytes: ix.builtSize, Builds: ix.builds,
		TablesMapped: len(d.ids.mem) + len(d.codes.mem), NamesMapped: len(d.names.block)}
	for _, c := range d.ar.chunks {
		st.ArenaMapped += cap(c)
	}
	for _, m := range d.rows.mem {
		st.RowsMapped += len(m)
	}
	return st
}

// SetBloatSlack sets how far past twice its built size the arena may grow
// before a compaction (tests).
func (ix *Index) SetBloatSlack(n int) {
	ix.mu.Lock()
	ix.bloatSlack = n
	ix.mu.Unlock()
}
