package store

import (
	"bytes"

	"go.etcd.io/bbolt"

	"github.com/storebox/storebox/daemon/store/internal/catalogindex"
	"github.com/storebox/storebox/daemon/store/internal/mapped"
)

// The catalog index (internal/catalogindex) answers getGoods by barcode and
// gid, paging and name search from memory; the store builds it from its
// buckets and keeps it current through transaction hooks.

// rebuildIndexes starts a background rebuild of the catalog index; lookups
// that need it wait for it (the store changed in bulk underneath).
func (s *Store) rebuildIndexes() error {
	s.idx.Rebuild()
	return nil
}

// WaitIndexed blocks until the catalog index is built (tests, benchmarks).
func (s *Store) WaitIndexed() { s.idx.WaitReady() }

// IndexStats describes the catalog index's size.
func (s *Store) IndexStats() catalogindex.Stats { return s.idx.Stats() }

// ReleaseMapped drops the store file's pages from the daemon's resident
// memory; they stay in the page cache (see package mapped).
func (s *Store) ReleaseMapped() error { return mapped.Release(s.db) }

// scanCatalog feeds an index build: the goods, then the stock rows. Then
// it drops the file pages the scan mapped in from the daemon's resident
// memory (they stay in the page cache): lookups are answered from the
// index, so they would only sit there.
func (s *Store) scanCatalog(b *catalogindex.Builder) error {
	err := s.scanChunks(bktGoods, func(k, v []byte, ver uint64) {
		if len(v) > 1 {
			b.Goods(k, v, ver)
		}
	})
	if err == nil {
		err = s.scanChunks(bktStock, func(k, v []byte, ver uint64) {
			if wh, gid, ok := bytes.Cut(k, []byte{0}); ok {
				b.Stock(k, wh, gid, string(wh) == s.warehouse, decodeStock(v).Available(), ver)
			}
		})
	}
	if err == nil {
		if rerr := s.ReleaseMapped(); rerr != nil {
			s.log.Debug("release mapped store pages after the index build", "err", rerr)
		}
	}
	return err
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
