package catalogindex

import (
	"fmt"
	"math/rand"
	"slices"
	"strings"
	"testing"
)

// The code table finds every row of a barcode, long or short, shared or
// not, after barcode changes and growth, even when every hash collides.
func TestGoodsTableByCode(t *testing.T) {
	for _, weak := range []bool{false, true} {
		d := newData()
		defer d.free()
		if weak {
			weaken(d)
		}
		code := func(i int) string {
			if i%3 == 0 {
				return fmt.Sprintf("LONG-%015d", i%700)
			}
			return fmt.Sprintf("69%011d", i%700)
		}
		want := map[string][]string{} // code → gids, in gid order
		r := rand.New(rand.NewSource(1))
		codeOf := map[string]string{}
		for step := range 3000 {
			gid := fmt.Sprintf("g%04d", r.Intn(1000))
			c := code(r.Intn(2000))
			d.apply(op{kind: opUpsert, gid: gid, raw: []byte(`{"gid":"` + gid + `"}`), code: c, ver: uint64(step + 1)})
			codeOf[gid] = c
		}
		for gid, c := range codeOf {
			want[c] = append(want[c], gid)
		}
		for i := range 2000 {
			c := code(i)
			got := d.byCode([]byte(c), 1000)
			exp := want[c]
			slices.Sort(exp)
			if len(got) != len(exp) {
				t.Fatalf("weak=%v %s: %d goods, want %d", weak, c, len(got), len(exp))
			}
			for j, g := range got {
				if !strings.Contains(string(g), `"`+exp[j]+`"`) {
					t.Fatalf("weak=%v %s: goods %d is %s, want %s", weak, c, j, g, exp[j])
				}
			}
		}
	}
}

// Transaction hooks can run out of commit order; the newer change wins.
func TestGoodsTableKeepsNewestChange(t *testing.T) {
	ix := newTestIndex(t)
	ix.Upsert("g1", "b", []byte(`{"gid":"g1","barcode":"2","gname":"b"}`), "2", 5)
	ix.Upsert("g1", "a", []byte(`{"gid":"g1","barcode":"1","gname":"a"}`), "1", 4)
	ix.Stock("g1", 3, 7)
	ix.Stock("g1", 9, 6)
	ix.Remove("g1", 3)
	got, _ := ix.ByBarcode("2", 100)
	if len(got) != 1 || string(got[0]) != `{"gid":"g1","barcode":"2","gname":"b","stock":3}` {
		t.Fatalf("by new barcode: %s", got)
	}
	if got, _ := ix.ByBarcode("1", 100); len(got) != 0 {
		t.Fatalf("by old barcode: %s", got)
	}
	ix.Remove("g1", 8)
	if got, _ := ix.ByGID("g1"); len(got) != 0 {
		t.Fatalf("removed goods found: %s", got)
	}
}

// Warehouse lists take a stock row's coming and going in version order,
// whatever order the hooks arrive in, and a goods' deletion outranks an
// older stock row; a change the build already read is not applied again.
func TestWarehouseListKeepsNewestChange(t *testing.T) {
	ix := newTestIndex(t)
	ix.Upsert("g1", "one", []byte(`{"gid":"g1"}`), "", 1)
	ix.Upsert("g2", "two", []byte(`{"gid":"g2"}`), "", 1)
	ix.Upsert("g3", "three", []byte(`{"gid":"g3"}`), "", 1)
	ix.RemoveWarehouseGID("W", "g1", 6) // the row's deletion arrives first
	ix.AddWarehouseGID("W", "g1", 5)
	ix.Remove("g2", 8) // the goods' deletion arrives first
	ix.AddWarehouseGID("W", "g2", 7)
	ix.AddWarehouseGID("W", "g3", 9)
	ix.RemoveWarehouseGID("W", "g3", 8) // older than the add
	if got, total := ix.Page("W", 0, 10); total != 1 || !slices.Equal(got, []string{"g3"}) {
		t.Fatalf("warehouse W: %d %v, want [g3]", total, got)
	}

	ix = newTestIndex(t)
	ix.d.markScanned([]byte("W\x00a"), 100)
	ix.d.markScanned([]byte("W\x00m"), 200)
	ix.AddWarehouseGID("W", "b", 150) // read by the view at 200: dropped
	ix.AddWarehouseGID("W", "c", 250) // newer than the build
	ix.AddWarehouseGID("W", "z", 199) // after the last key: the last view
	if got, _ := ix.Page("W", 0, 10); !slices.Equal(got, []string{"c"}) {
		t.Fatalf("after a build: %v, want [c]", got)
	}
}

// Paging and name search follow the newest change of a goods too: a
// removal that arrives after a newer re-add is dropped.
func TestIndexIgnoresOlderGoodsChange(t *testing.T) {
	ix := newTestIndex(t)
	ix.Upsert("g1", "milk", []byte(`{"gid":"g1","barcode":"1","gname":"Milk"}`), "1", 5)
	ix.Remove("g1", 3)
	ix.Upsert("g1", "old name", []byte(`{"gid":"g1","barcode":"1","gname":"Old name"}`), "1", 4)
	if got, total := ix.Page("", 0, 10); total != 1 || len(got) != 1 || got[0] != "g1" {
		t.Fatalf("page: %v %d", got, total)
	}
	if got := ix.Search("milk", 10); len(got) != 1 {
		t.Fatalf("search milk: %v", got)
	}
	if got := ix.Search("old name", 10); len(got) != 0 {
		t.Fatalf("an older name was indexed: %v", got)
	}
	ix.Remove("g1", 6)
	if _, total := ix.Page("", 0, 10); total != 0 {
		t.Fatalf("removed goods still paged")
	}
}
