// Package storetest opens stores for tests and runs bbolt's own
// consistency check (Tx.Check: every page reachable once, no page both
// free and in use) on the file when the test ends, as bbolt's tests do. A
// test that leaves a store consistent by luck still passes its own
// assertions; this catches the file it left behind.
package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/storebox/storebox/daemon/store"
	"github.com/storebox/storebox/protocol/goods"
)

// Open opens the store in dir. When the test ends the file is checked and
// the store closed; a test may close (and reopen) the store itself, as a
// restart does, and the closed file is then checked.
func Open(t testing.TB, dir string, opts store.Options) *store.Store {
	t.Helper()
	st, err := store.Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		err := st.View(func(tx *bbolt.Tx) error { return checkTx(tx) })
		if errors.Is(err, berrors.ErrDatabaseNotOpen) {
			CheckFile(t, st.Path())
			return
		}
		if err != nil {
			t.Errorf("store %s: %v", st.Path(), err)
		}
		_ = st.Close()
	})
	return st
}

// CheckFile runs the consistency check on the closed bbolt file at path
// (a store's file is dir/store.FileName).
func CheckFile(t testing.TB, path string) {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true, Timeout: 5 * time.Second})
	if err != nil {
		t.Errorf("open %s for its check: %v", path, err)
		return
	}
	defer db.Close()
	if err := db.View(func(tx *bbolt.Tx) error { return checkTx(tx) }); err != nil {
		t.Errorf("store %s: %v", path, err)
	}
}

func checkTx(tx *bbolt.Tx) error {
	var errs []error
	for err := range tx.Check() {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return errors.Join(append([]error{errors.New("bbolt consistency check failed")}, errs...)...)
	}
	return nil
}

// StockOf reads one warehouse's stock level of gid, failing the test on a
// read error.
func StockOf(t testing.TB, st *store.Store, wh, gid string) store.StockLevel {
	t.Helper()
	var l store.StockLevel
	if err := st.View(func(tx *bbolt.Tx) error { l = store.GetStock(tx, wh, gid); return nil }); err != nil {
		t.Fatalf("read stock %s/%s: %v", wh, gid, err)
	}
	return l
}

// Goods reads one goods with the selling warehouse's available stock,
// failing the test if it cannot be read or does not exist.
func Goods(t testing.TB, st *store.Store, gid string) goods.Goods {
	t.Helper()
	var g goods.Goods
	err := st.View(func(tx *bbolt.Tx) error {
		var ok bool
		var err error
		if g, ok, err = st.GoodsTx(tx, gid); err == nil && !ok {
			err = fmt.Errorf("goods %s not found", gid)
		}
		return err
	})
	if err != nil {
		t.Fatalf("read goods %s: %v", gid, err)
	}
	return g
}
