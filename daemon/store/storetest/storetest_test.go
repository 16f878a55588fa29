package storetest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.etcd.io/bbolt"

	"github.com/storebox/storebox/daemon/store"
)

func TestOpenChecksAnOpenAndAClosedStore(t *testing.T) {
	st := Open(t, t.TempDir(), store.Options{})
	if err := st.Update(func(t *store.Tx) error { _, err := t.CreateBucket([]byte("x")); return err }); err != nil {
		t.Fatal(err)
	}
	closed := Open(t, t.TempDir(), store.Options{})
	closed.Close()
}

// errRecorder keeps Errorf instead of failing.
type errRecorder struct {
	testing.TB
	errs []string
}

func (r *errRecorder) Helper() {}
func (r *errRecorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, format)
}

// A file whose free list claims a page a bucket uses fails the check.
func TestCheckFileFindsCorruption(t *testing.T) {
	path := filepath.Join(t.TempDir(), store.FileName)
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucket([]byte("b"))
		if err != nil {
			return err
		}
		for i := range 2000 {
			if err := b.Put([]byte(strings.Repeat("k", 20)+string(rune('a'+i%26))+string(rune(i))), make([]byte, 100)); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	rec := &errRecorder{TB: t}
	CheckFile(rec, path)
	if len(rec.errs) != 0 {
		t.Fatalf("a good file failed: %v", rec.errs)
	}
	// Overwrite a page in the middle of the file with garbage.
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := f.Stat()
	page := int64(os.Getpagesize())
	if _, err := f.WriteAt(make([]byte, page), (fi.Size()/page/2)*page); err != nil {
		t.Fatal(err)
	}
	f.Close()
	CheckFile(rec, path)
	if len(rec.errs) == 0 {
		t.Fatal("a corrupted file passed the check")
	}
}
