package datafile

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/storebox/storebox/daemon/store/storetest"
)

// testMinSize stands for startMinSize: a file over it is large enough to
// compact at start (64 MB would make the test slow under emulation).
const testMinSize = 2 << 20

// wasteful writes a file over testMinSize and deletes most of it again,
// keeping one small bucket with a sequence.
func wasteful(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "storebox.db")
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	val := bytes.Repeat([]byte("x"), 4000)
	for i := range 2 {
		err := db.Update(func(tx *bbolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists([]byte("junk"))
			if err != nil {
				return err
			}
			for j := range 500 {
				if err := b.Put([]byte{byte(i), byte(j >> 8), byte(j)}, val); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		if err := tx.DeleteBucket([]byte("junk")); err != nil {
			return err
		}
		k, err := tx.CreateBucket([]byte("kept"))
		if err != nil {
			return err
		}
		if err := k.SetSequence(41); err != nil {
			return err
		}
		return k.Put([]byte("a"), []byte("b"))
	})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	return path
}

func TestCompactIfWasteful(t *testing.T) {
	path := wasteful(t)
	st, err := Read(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.Size < testMinSize || st.FreeShare() <= startFreeShare {
		t.Fatalf("fixture not wasteful: %d bytes, %.2f free", st.Size, st.FreeShare())
	}
	compactIfWasteful(path, 99, testMinSize, slog.New(slog.DiscardHandler))
	after, err := Read(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if after.Size > 256<<10 {
		t.Fatalf("after compaction %d bytes (before %d)", after.Size, st.Size)
	}
	if len(after.Buckets) != 1 || after.Buckets[0] != (Bucket{Name: "kept", Keys: 1}) {
		t.Fatalf("buckets after: %+v", after.Buckets)
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	_ = db.View(func(tx *bbolt.Tx) error {
		if s := tx.Bucket([]byte("kept")).Sequence(); s != 41 {
			t.Errorf("sequence %d after compaction", s)
		}
		return nil
	})
	db.Close()
	storetest.CheckFile(t, path)
}

// A file of a newer schema is left alone, and so is a small one.
func TestCompactIfWastefulLeavesAlone(t *testing.T) {
	path := wasteful(t)
	db, _ := bbolt.Open(path, 0o600, nil)
	_ = db.Update(func(tx *bbolt.Tx) error {
		m, _ := tx.CreateBucketIfNotExists([]byte("meta"))
		return m.Put([]byte("schema"), []byte{0, 0, 0, 9})
	})
	db.Close()
	before, _ := os.Stat(path)
	compactIfWasteful(path, 2, testMinSize, slog.New(slog.DiscardHandler))
	after, _ := os.Stat(path)
	if after.Size() != before.Size() || !after.ModTime().Equal(before.ModTime()) {
		t.Fatal("a file of a newer schema was compacted")
	}
	small := wasteful(t)
	before, _ = os.Stat(small)
	compactIfWasteful(small, 99, before.Size()+1, slog.New(slog.DiscardHandler))
	if after, _ := os.Stat(small); after.Size() != before.Size() {
		t.Fatal("a file under the minimum size was compacted")
	}
}

func TestInUse(t *testing.T) {
	path := filepath.Join(t.TempDir(), "storebox.db")
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	start := time.Now()
	if _, err := Compact(path); !errors.Is(err, ErrInUse) {
		t.Fatalf("compact of an open file: %v", err)
	}
	if _, err := Read(path, nil); !errors.Is(err, ErrInUse) || time.Since(start) > 10*time.Second {
		t.Fatalf("read of an open file: %v", err)
	}
}
