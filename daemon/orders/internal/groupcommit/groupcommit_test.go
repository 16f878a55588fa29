package groupcommit

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"go.etcd.io/bbolt"

	"github.com/storebox/storebox/daemon/store"
)

// One caller's failure (or panic) fails that caller only; everyone else's
// write commits.
func TestGroupCommitIsolatesFailures(t *testing.T) {
	st, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Update(func(t *store.Tx) error { _, err := t.CreateBucket([]byte("x")); return err }); err != nil {
		t.Fatal(err)
	}
	g := New(st.Update)
	boom := errors.New("boom")
	var wg sync.WaitGroup
	errs := make([]error, 200)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = g.Do(func(t *store.Tx) error {
				if err := t.Bucket([]byte("x")).Put([]byte(fmt.Sprint(i)), []byte("v")); err != nil {
					return err
				}
				switch i % 50 {
				case 7:
					return boom
				case 9:
					panic("bad")
				}
				return nil
			})
		}()
	}
	wg.Wait()
	n := 0
	_ = st.View(func(tx *bbolt.Tx) error { n = tx.Bucket([]byte("x")).Stats().KeyN; return nil })
	for i, err := range errs {
		switch i % 50 {
		case 7:
			if !errors.Is(err, boom) {
				t.Errorf("%d: %v", i, err)
			}
		case 9:
			if err == nil {
				t.Errorf("%d: panic not reported", i)
			}
		default:
			if err != nil {
				t.Errorf("%d: %v", i, err)
			}
		}
	}
	if n != 200-8 {
		t.Fatalf("%d keys committed, want %d", n, 200-8)
	}
}
