// Package datafile looks at and rewrites the store's bbolt file as a file,
// while no daemon has it open: its size, how much of it is free, what each
// bucket holds, and compaction with bbolt's own Compact (a bbolt file never
// shrinks by itself; pages freed by removed orders are only reused).
package datafile

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"time"

	"go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/storebox/storebox/internal/dirowner"
)

// ErrInUse means another process (a running daemon) has the file open.
var ErrInUse = errors.New("the store file is in use (is storebox running on this data directory? stop it first: systemctl stop storebox)")

// Bucket is one top-level bucket and how many keys it holds.
type Bucket struct {
	Name string `json:"name"`
	Keys int    `json:"keys"`
}

// Stats describes the file.
type Stats struct {
	Path string `json:"path"`
	Size int64  `json:"size_bytes"`
	// Free is what the file holds but does not use: free pages plus the
	// space past the last page in use. Compaction gives it back.
	Free int64 `json:"free_bytes"`
	// Schema is the file's schema version (store.SchemaVersion).
	Schema  uint32   `json:"schema"`
	Buckets []Bucket `json:"buckets"`
}

// FreeShare is Free as a share of Size.
func (s Stats) FreeShare() float64 {
	if s.Size == 0 {
		return 0
	}
	return float64(s.Free) / float64(s.Size)
}

// open opens path for reading, failing with ErrInUse instead of waiting
// for a daemon's lock.
func open(path string) (*bbolt.DB, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true, Timeout: time.Second, PreLoadFreelist: true})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("open %s: %w", path, ErrInUse)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return db, nil
}

// Read reads the file's figures; more, if set, reads more in the same
// read transaction (the orders' ages). Counting keys reads every page.
func Read(path string, more func(*bbolt.Tx) error) (Stats, error) {
	db, err := open(path)
	if err != nil {
		return Stats{}, err
	}
	defer db.Close()
	return stats(db, path, true, more)
}

// readSpace reads size, free space and schema only: the freelist and the
// meta page, not the whole file (the daemon's start).
func readSpace(path string) (Stats, error) {
	db, err := open(path)
	if err != nil {
		return Stats{}, err
	}
	defer db.Close()
	return stats(db, path, false, nil)
}

func stats(db *bbolt.DB, path string, buckets bool, more func(*bbolt.Tx) error) (Stats, error) {
	st := Stats{Path: path}
	fi, err := os.Stat(path)
	if err != nil {
		return st, err
	}
	st.Size = fi.Size()
	err = db.View(func(tx *bbolt.Tx) error {
		free := int64(db.Stats().FreePageN) * int64(db.Info().PageSize)
		st.Free = free + max(st.Size-tx.Size(), 0)
		if m := tx.Bucket([]byte("meta")); m != nil {
			if v := m.Get([]byte("schema")); len(v) == 4 {
				st.Schema = binary.BigEndian.Uint32(v)
			}
		}
		if buckets {
			err := tx.ForEach(func(name []byte, b *bbolt.Bucket) error {
				st.Buckets = append(st.Buckets, Bucket{Name: string(name), Keys: b.Stats().KeyN})
				return nil
			})
			if err != nil {
				return err
			}
		}
		if more == nil {
			return nil
		}
		return more(tx)
	})
	if err != nil {
		return st, fmt.Errorf("read %s: %w", path, err)
	}
	sort.Slice(st.Buckets, func(i, j int) bool { return st.Buckets[i].Name < st.Buckets[j].Name })
	return st, nil
}

// Result is what a compaction did.
type Result struct {
	Before, After int64
	Took          time.Duration
}

// Compact rewrites the file at path with bbolt's Compact: every bucket
// copied into a new file with full pages, which then replaces the old one.
// The old file stays untouched until the new one is complete and synced.
func Compact(path string) (Result, error) {
	start := time.Now()
	src, err := open(path)
	if err != nil {
		return Result{}, err
	}
	before, err := fileSize(path)
	if err != nil {
		src.Close()
		return Result{}, err
	}
	tmp := path + ".compact"
	_ = os.Remove(tmp) // left by an interrupted compaction
	dst, err := bbolt.Open(tmp, 0o600, &bbolt.Options{NoSync: true})
	if err != nil {
		src.Close()
		return Result{}, fmt.Errorf("compact %s: create %s: %w", path, tmp, err)
	}
	err = bbolt.Compact(dst, src, 32<<20)
	if err == nil {
		err = dst.Sync()
	}
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	src.Close()
	if err != nil {
		_ = os.Remove(tmp)
		return Result{}, fmt.Errorf("compact %s: %w (the file was not changed)", path, err)
	}
	dirowner.Match(filepath.Dir(path), tmp)
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return Result{}, fmt.Errorf("compact %s: replace it: %w (the file was not changed)", path, err)
	}
	syncDir(filepath.Dir(path))
	after, err := fileSize(path)
	if err != nil {
		return Result{}, err
	}
	return Result{Before: before, After: after, Took: time.Since(start)}, nil
}

func fileSize(path string) (int64, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// syncDir makes the rename durable (best effort: not every OS can sync a
// directory).
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

// Start compaction: a file larger than startMinSize of which more than
// half is free is compacted before the daemon opens it. Smaller files are
// not worth the start time; a file with little free space gains little.
const (
	startMinSize   = 64 << 20
	startFreeShare = 0.5
)

// CompactIfWasteful compacts the file at path before the daemon opens it
// when it is large and mostly free, and logs what it did. A file that does
// not exist yet, cannot be read, or has a schema newer than maxSchema (which
// this build refuses untouched) is left to the store's open to report.
func CompactIfWasteful(path string, maxSchema uint32, log *slog.Logger) {
	compactIfWasteful(path, maxSchema, startMinSize, log)
}

func compactIfWasteful(path string, maxSchema uint32, minSize int64, log *slog.Logger) {
	st, err := readSpace(path)
	if err != nil || st.Schema > maxSchema || st.Size < minSize || st.FreeShare() <= startFreeShare {
		return
	}
	log.Info("compacting the store file: more than half of it is free", "path", path, "size_mb", st.Size>>20, "free_share", fmt.Sprintf("%.0f%%", 100*st.FreeShare()))
	res, err := Compact(path)
	if err != nil {
		log.Warn("store file not compacted; it still works, only larger", "err", err)
		return
	}
	log.Info("store file compacted", "before_mb", res.Before>>20, "after_mb", res.After>>20, "took", res.Took.Round(time.Millisecond))
}
