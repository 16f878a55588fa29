package orderdb

import (
	"testing"

	"github.com/storebox/storebox/daemon/store"
	"github.com/storebox/storebox/daemon/store/storetest"
)

// A restored data directory mints a new oid prefix once: the box the
// backup came from went on issuing oids after the backup.
func TestRestoredStoreGetsANewInstance(t *testing.T) {
	dir := t.TempDir()
	instance := func() string {
		st := storetest.Open(t, dir, store.Options{})
		defer st.Close()
		in, _, err := Open(st)
		if err != nil {
			t.Fatal(err)
		}
		return in
	}
	a := instance()
	if again := instance(); again != a {
		t.Fatalf("reopened: instance %s, was %s", again, a)
	}
	if err := store.MarkRestored(dir); err != nil {
		t.Fatal(err)
	}
	b := instance()
	if b == a {
		t.Fatalf("restored: instance still %s", a)
	}
	if again := instance(); again != b {
		t.Fatalf("restored and reopened: instance %s, was %s", again, b)
	}
}
