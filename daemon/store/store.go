// Package store is storebox's offline store: catalog, stock and receipts
// in one bbolt file, shared with the ledger outbox (package outbox), the
// device records (package admission) and the orders, which write in the
// store's transactions.
//
// Reads are lock-free bbolt read transactions plus small in-memory indexes
// (gid order for paging, a bigram index for name search) that are rebuilt at
// open and kept in step with every write.
package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/storebox/storebox/daemon/store/internal/catalogindex"
	"github.com/storebox/storebox/daemon/store/outbox"
	"github.com/storebox/storebox/internal/dirowner"
)

// SchemaVersion is the on-disk layout this build reads and writes. An
// older file is upgraded at open (migrate.go), a newer one refused.
const SchemaVersion = 2

// FileName is the store's file inside the data directory.
const FileName = "storebox.db"

var (
	bktMeta     = []byte("meta")
	bktGoods    = []byte("goods")       // gid → goodsRecord JSON
	bktNames    = []byte("names")       // gid → lower-cased name (index source)
	bktBarcode  = []byte("idx_barcode") // barcode \0 gid → nil
	bktMac      = []byte("idx_mac")     // mac \0 gid → nil
	bktRFID     = []byte("idx_rfid")    // rfid \0 gid → nil
	bktStock    = []byte("stock")       // wh \0 gid → onhand(8) reserved(8)
	bktDevices  = []byte("devices")     // equipId → device record JSON (package admission)
	bktReceipts = []byte("receipts")    // ref → Receipt JSON
	// The outbox's buckets are package outbox's (outbox.Buckets).
	allBuckets = [][]byte{bktMeta, bktGoods, bktNames, bktBarcode, bktMac, bktRFID, bktStock, bktDevices, bktReceipts}

	keySchema       = []byte("schema")
	keyEventSeq     = []byte("seq.event")
	keyPickingSeq   = []byte("seq.picking")
	keyCatalogCurso = []byte("catalog.cursor")
)

// ErrNewerSchema means the file was written by a newer storebox.
var ErrNewerSchema = errors.New("store was written by a newer storebox")

// Options tunes Open.
type Options struct {
	// Warehouse is the selling warehouse ("main" when empty).
	Warehouse string
	Log       *slog.Logger
	// LockTimeout is how long to wait for another process's lock (default 1s).
	LockTimeout time.Duration
	// NoSync skips the fsync of every commit: for simulations that write
	// years of data to measure the file (make bench's years soak), never
	// for a store that sells.
	NoSync bool
}

// Store is the open database plus its in-memory indexes.
type Store struct {
	db        *bbolt.DB
	path      string
	warehouse string
	log       *slog.Logger

	idx *catalogindex.Index
	ver atomic.Uint64 // last Tx.version handed out

	outbox *outbox.Queue
	hooks  hooks
}

// Open opens (creating if needed) the store in dataDir.
func Open(dataDir string, opts Options) (*Store, error) {
	if opts.Warehouse == "" {
		opts.Warehouse = "main"
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.LockTimeout == 0 {
		opts.LockTimeout = time.Second
	}
	if err := os.MkdirAll(dataDir, 0o750); err != nil {
		return nil, fmt.Errorf("open store: create data directory %s: %w", dataDir, err)
	}
	path := filepath.Join(dataDir, FileName)
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{
		Timeout:      opts.LockTimeout,
		FreelistType: bbolt.FreelistMapType,
		NoSync:       opts.NoSync,
	})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("open store %s: locked by another process (is storebox already running on this data directory?)", path)
	}
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	dirowner.Match(dataDir, path)
	s := &Store{db: db, path: path, warehouse: opts.Warehouse, log: opts.Log, outbox: outbox.New(db, lastEventSeq)}
	if err := s.init(); err != nil {
		db.Close()
		return nil, err
	}
	s.idx = catalogindex.New(s.scanCatalog, s.log)
	if err := s.rebuildIndexes(); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) init() error {
	return s.db.Update(func(tx *bbolt.Tx) error {
		meta := tx.Bucket(bktMeta)
		fresh := meta == nil
		if meta != nil {
			got := uint32(1) // files from before the version was written
			if v := meta.Get(keySchema); len(v) == 4 {
				got = binary.BigEndian.Uint32(v)
			}
			if got > SchemaVersion {
				return fmt.Errorf("open store %s: %w (schema %d, this build reads %d): upgrade storebox or restore a backup; the file was not changed", s.path, ErrNewerSchema, got, SchemaVersion)
			}
			if err := s.migrate(tx, got); err != nil {
				return err
			}
		}
		for _, b := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return fmt.Errorf("open store: create bucket %s: %w", b, err)
			}
		}
		for _, b := range append(outbox.Buckets(), extraBuckets...) {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return fmt.Errorf("open store: create bucket %s: %w", b, err)
			}
		}
		if fresh {
			// A new data directory may stand in for a dead box of the same
			// store: its ledger numbering follows the cloud's (rebase.go).
			if err := tx.Bucket(bktMeta).Put(keyRebaseDue, []byte("new")); err != nil {
				return err
			}
		}
		var v [4]byte
		binary.BigEndian.PutUint32(v[:], SchemaVersion)
		return tx.Bucket(bktMeta).Put(keySchema, v[:])
	})
}

// extraBuckets lets other files of this package (orders) add buckets.
var extraBuckets [][]byte

// Close closes the database.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close store: %w", err)
	}
	return nil
}

// Path is the database file.
func (s *Store) Path() string { return s.path }

// Warehouse is the selling warehouse.
func (s *Store) Warehouse() string { return s.warehouse }

// DB exposes the handle for packages that add their own buckets in the same
// transactions (orders). Keep transactions short.
func (s *Store) DB() *bbolt.DB { return s.db }

func u64(v uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	return b[:]
}

func nextSeq(b *bbolt.Bucket, key []byte) uint64 {
	var n uint64
	if v := b.Get(key); len(v) == 8 {
		n = binary.BigEndian.Uint64(v)
	}
	n++
	_ = b.Put(key, u64(n))
	return n
}

func ikey(parts ...string) []byte {
	n := 0
	for _, p := range parts {
		n += len(p) + 1
	}
	k := make([]byte, 0, n)
	for i, p := range parts {
		if i > 0 {
			k = append(k, 0)
		}
		k = append(k, p...)
	}
	return k
}
