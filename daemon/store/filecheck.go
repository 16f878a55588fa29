package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// ErrNotStore means a bbolt file is not a storebox store.
var ErrNotStore = errors.New("not a storebox data file (no meta bucket)")

// ErrLocked means another process (a running daemon) holds the file.
var ErrLocked = errors.New("the store file is locked by another process (is storebox running?)")

// FileSchema is the schema version of the store in tx (1 for files from
// before the version was written).
func FileSchema(tx *bbolt.Tx) (uint32, error) {
	meta := tx.Bucket(bktMeta)
	if meta == nil {
		return 0, ErrNotStore
	}
	if v := meta.Get(keySchema); len(v) == 4 {
		return binary.BigEndian.Uint32(v), nil
	}
	return 1, nil
}

// CheckFile runs bbolt's consistency check (Tx.Check: every page
// reachable once, none both free and in use) on the closed store file at
// path and returns its schema version. A file written by a newer build
// is ErrNewerSchema. The file is opened read-only and not changed.
func CheckFile(path string) (uint32, error) {
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true, Timeout: 500 * time.Millisecond})
	if errors.Is(err, berrors.ErrTimeout) {
		return 0, fmt.Errorf("check %s: %w", path, ErrLocked)
	}
	if err != nil {
		return 0, fmt.Errorf("check %s: %w", path, err)
	}
	defer db.Close()
	var schema uint32
	err = db.View(func(tx *bbolt.Tx) error {
		var errs []error
		for e := range tx.Check() { // drained whole: the checker reads pages until it is done
			if len(errs) < 10 {
				errs = append(errs, e)
			}
		}
		if len(errs) > 0 {
			return fmt.Errorf("consistency check failed: %w", errors.Join(errs...))
		}
		var err error
		schema, err = FileSchema(tx)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("check %s: %w", path, err)
	}
	if schema > SchemaVersion {
		return schema, fmt.Errorf("check %s: %w (schema %d, this build reads %d): upgrade storebox first", path, ErrNewerSchema, schema, SchemaVersion)
	}
	return schema, nil
}

// CheckUnlocked fails with ErrLocked when another process (a running
// daemon) holds the store file at path; it opens the file read-only and
// closes it at once.
func CheckUnlocked(path string) error {
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true, Timeout: 300 * time.Millisecond})
	if errors.Is(err, berrors.ErrTimeout) {
		return ErrLocked
	}
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	return db.Close()
}
