package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand"
	"slices"
	"strings"
	"sync"
	"testing"

	"go.etcd.io/bbolt"

	"github.com/storebox/storebox/protocol/goods"
)

// The in-memory lookups answer getGoods by barcode and gid exactly as the
// bbolt path does, through concurrent feed pages (new goods, changed names,
// prices and barcodes, deletions), receipts and reservations, and an index
// rebuild racing with them. Barcodes are shared by several goods on purpose.
func TestGoodsLookupMatchesStore(t *testing.T) {
	s, _ := openTest(t)
	code := func(i int) string {
		if i%40 >= 30 { // too long to sit in the row
			return fmt.Sprintf("(01)0%012d(21)%d", i%40, i%40)
		}
		return fmt.Sprintf("69%011d", i%40)
	}
	var initial []ImportRow
	for i := range 60 {
		initial = append(initial, row(i+2, fmt.Sprintf("g%03d", i), code(i), fmt.Sprintf("goods %d", i), int64(100+i), int64(i)))
	}
	if _, err := s.Import(rows(initial...), ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	s.WaitIndexed()

	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewSource(int64(w)))
			for step := range 150 {
				gid := fmt.Sprintf("g%03d", r.Intn(90))
				var err error
				switch k := r.Intn(10); {
				case k < 4:
					g := goods.Goods{GID: gid, Barcode: code(r.Intn(60)), Name: fmt.Sprintf("goods %s v%d", gid, step), Price: int64(r.Intn(999) + 1), Unit: "pcs"}
					if r.Intn(5) == 0 {
						g.Barcode = ""
					}
					_, err = s.ApplyCatalogPage(fmt.Sprint(step), []goods.Goods{g}, nil)
				case k < 5:
					_, err = s.ApplyCatalogPage(fmt.Sprint(step), nil, []string{gid})
				case k < 8:
					_, err = s.Receive(fmt.Sprintf("w%d-%d", w, step), "main", []Line{{GID: gid, Qty: int64(r.Intn(5) + 1)}}, "T-1")
				default:
					err = s.Update(func(t *Tx) error {
						l := GetStock(t.Tx, "main", gid)
						if l.OnHand > l.Reserved {
							l.Reserved++
						}
						return t.PutStock("main", gid, l)
					})
				}
				if err != nil && !isExpected(err) {
					t.Errorf("worker %d step %d: %v", w, step, err)
					return
				}
			}
		}()
	}
	// A rebuild while the workers write: their changes are logged and
	// replayed onto the new index.
	if err := s.rebuildIndexes(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	s.WaitIndexed()

	for i := range 90 {
		gid := fmt.Sprintf("g%03d", i)
		mem, ok := s.idx.lookupRaw(ByKeyGID, gid)
		if !ok {
			t.Fatal("index not ready")
		}
		want, err := s.ByGID(gid)
		if err != nil {
			t.Fatal(err)
		}
		same(t, "gid "+gid, mem, want)
	}
	for i := range 60 {
		mem, _ := s.idx.lookupRaw(ByKeyBarcode, code(i))
		want, err := s.ByBarcode(code(i))
		if err != nil {
			t.Fatal(err)
		}
		same(t, "barcode "+code(i), mem, want)
	}
	// Paging and name search, which the index drives, list exactly the
	// goods the store holds.
	var all []string
	names := map[string]string{}
	err := s.ForEachGoods(func(g ExportGoods) error {
		all = append(all, g.Goods.GID)
		names[g.Goods.GID] = g.Goods.Name
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	page, total, err := s.AllGoods(0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var paged []string
	for _, g := range page {
		paged = append(paged, g.GID)
	}
	if total != len(all) || fmt.Sprint(paged) != fmt.Sprint(all) {
		t.Fatalf("paging: %d %v\nstore: %d %v", total, paged, len(all), all)
	}
	for gid, name := range names {
		found, err := s.SearchName(name, MaxLookup)
		if err != nil {
			t.Fatal(err)
		}
		ok := false
		for _, g := range found {
			ok = ok || g.GID == gid
		}
		if !ok {
			t.Fatalf("search %q: %d found, not %s", name, len(found), gid)
		}
	}
	// The warehouse's list (getWarehouseGoods) holds exactly the goods
	// with a stock row there.
	var stocked []string
	err = s.db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bktStock).ForEach(func(k, _ []byte) error {
			if wh, gid, _ := strings.Cut(string(k), "\x00"); wh == "main" {
				stocked = append(stocked, gid)
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, total := s.idx.page("main", 0, 1000); total != len(stocked) || !slices.Equal(got, stocked) {
		t.Fatalf("warehouse list: %d %v\nstore: %d %v", total, got, len(stocked), stocked)
	}
}

func isExpected(err error) bool {
	// Receipts for goods a concurrent page deleted are refused.
	return err != nil && (errors.Is(err, ErrNotFound) || errors.Is(err, ErrConflict))
}

func same(t *testing.T, what string, mem []json.RawMessage, want []goods.Goods) {
	t.Helper()
	var got []goods.Goods
	for _, m := range mem {
		var g goods.Goods
		if err := json.Unmarshal(m, &g); err != nil {
			t.Fatalf("%s: %s: %v", what, m, err)
		}
		got = append(got, g)
	}
	if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", want) {
		t.Fatalf("%s: memory %+v\nstore %+v", what, got, want)
	}
}

// The code table finds every row of a barcode, long or short, shared or
// not, after barcode changes and growth, even when every hash collides.
func TestGoodsTableByCode(t *testing.T) {
	for _, weak := range []bool{false, true} {
		var a arena
		gt := newGoodsTable()
		if weak {
			gt.hash = func(b []byte) uint64 { return uint64(len(b)%3) << 32 }
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
			gt.upsert(&a, []byte(gid), []byte(`{"gid":"`+gid+`"}`), c, uint64(step+1))
			codeOf[gid] = c
		}
		for gid, c := range codeOf {
			want[c] = append(want[c], gid)
		}
		for i := range 2000 {
			c := code(i)
			got := gt.byCode(&a, []byte(c), 1000)
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
	ci := newCatalogIndex()
	ci.upsert("g1", "b", []byte(`{"gid":"g1","barcode":"2","gname":"b"}`), "2", 5)
	ci.upsert("g1", "a", []byte(`{"gid":"g1","barcode":"1","gname":"a"}`), "1", 4)
	ci.stock("g1", 3, 7)
	ci.stock("g1", 9, 6)
	ci.remove("g1", 3)
	got, _ := ci.lookupRaw(ByKeyBarcode, "2")
	if len(got) != 1 || string(got[0]) != `{"gid":"g1","barcode":"2","gname":"b","stock":3}` {
		t.Fatalf("by new barcode: %s", got)
	}
	if got, _ := ci.lookupRaw(ByKeyBarcode, "1"); len(got) != 0 {
		t.Fatalf("by old barcode: %s", got)
	}
	ci.remove("g1", 8)
	if got, _ := ci.lookupRaw(ByKeyGID, "g1"); len(got) != 0 {
		t.Fatalf("removed goods found: %s", got)
	}
}

// Warehouse lists take a stock row's coming and going in version order,
// whatever order the hooks arrive in, and a goods' deletion outranks an
// older stock row; a change the build already read is not applied again.
func TestWarehouseListKeepsNewestChange(t *testing.T) {
	ci := newCatalogIndex()
	ci.upsert("g1", "one", []byte(`{"gid":"g1"}`), "", 1)
	ci.upsert("g2", "two", []byte(`{"gid":"g2"}`), "", 1)
	ci.upsert("g3", "three", []byte(`{"gid":"g3"}`), "", 1)
	ci.removeWarehouseGID("W", "g1", 6) // the row's deletion arrives first
	ci.addWarehouseGID("W", "g1", 5)
	ci.remove("g2", 8) // the goods' deletion arrives first
	ci.addWarehouseGID("W", "g2", 7)
	ci.addWarehouseGID("W", "g3", 9)
	ci.removeWarehouseGID("W", "g3", 8) // older than the add
	if got, total := ci.page("W", 0, 10); total != 1 || !slices.Equal(got, []string{"g3"}) {
		t.Fatalf("warehouse W: %d %v, want [g3]", total, got)
	}

	ci = newCatalogIndex()
	ci.markScanned([]byte("W\x00a"), 100)
	ci.markScanned([]byte("W\x00m"), 200)
	ci.addWarehouseGID("W", "b", 150) // read by the view at 200: dropped
	ci.addWarehouseGID("W", "c", 250) // newer than the build
	ci.addWarehouseGID("W", "z", 199) // after the last key: the last view
	if got, _ := ci.page("W", 0, 10); !slices.Equal(got, []string{"c"}) {
		t.Fatalf("after a build: %v, want [c]", got)
	}
}

// Every change appends to the index's arena; past twice its built size
// the index is rebuilt in the background, and keeps answering meanwhile.
func TestIndexCompactsAfterChurn(t *testing.T) {
	s, _ := openTest(t)
	var initial []ImportRow
	for i := range 50 {
		initial = append(initial, row(i+2, fmt.Sprintf("g%03d", i), fmt.Sprintf("69%011d", i), fmt.Sprintf("goods %d", i), 100, 5))
	}
	if _, err := s.Import(rows(initial...), ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	s.WaitIndexed()
	s.idx.mu.Lock()
	s.idx.bloatSlack = 2048
	built := s.idx.builtSize
	s.idx.mu.Unlock()
	compactions := 0
	for step := range 2000 {
		gid := fmt.Sprintf("g%03d", step%50)
		g := goods.Goods{GID: gid, Barcode: fmt.Sprintf("69%011d", step%50), Name: fmt.Sprintf("goods %s renamed %d", gid, step), Price: int64(step + 1), Unit: "pcs"}
		if _, err := s.ApplyCatalogPage(fmt.Sprint(step), []goods.Goods{g}, nil); err != nil {
			t.Fatal(err)
		}
		// Lookups keep working from memory while a compaction runs.
		if mem, ok := s.idx.lookupRaw(ByKeyGID, gid); !ok || len(mem) != 1 {
			t.Fatalf("step %d: lookup during churn: %v %v", step, mem, ok)
		}
		s.idx.mu.RLock()
		if s.idx.builtSize != built {
			compactions++
			built = s.idx.builtSize
		}
		size := s.idx.ar.size
		s.idx.mu.RUnlock()
		if size > 4*built+4*2048+1<<16 {
			t.Fatalf("step %d: arena %d bytes, built %d: not compacted", step, size, built)
		}
	}
	if compactions == 0 {
		t.Fatal("no compaction in 2000 renames")
	}
	for i := range 50 {
		gid := fmt.Sprintf("g%03d", i)
		mem, _ := s.idx.lookupRaw(ByKeyGID, gid)
		want, _ := s.ByGID(gid)
		same(t, gid, mem, want)
		if got, _ := s.SearchName(fmt.Sprintf("goods %s renamed", gid), 5); len(got) != 1 || got[0].GID != gid {
			t.Fatalf("search %s: %+v", gid, got)
		}
	}
}

// Versions grow within a transaction (callers sharing a Batch run in it one
// after another) and across transactions, and a read transaction's scan
// version is newer than every change it sees.
func TestChangeVersionsAreOrdered(t *testing.T) {
	s, _ := openTest(t)
	var vs []uint64
	for range 3 {
		err := s.Update(func(t *Tx) error {
			vs = append(vs, t.version(), t.version())
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = s.Batch(func(t *Tx) error {
				mu.Lock()
				vs = append(vs, t.version())
				mu.Unlock()
				return nil
			})
		}()
	}
	wg.Wait()
	for i := 1; i < len(vs); i++ {
		if vs[i] <= vs[i-1] {
			t.Fatalf("version %d (%x) not after %x", i, vs[i], vs[i-1])
		}
	}
	_ = s.View(func(tx *bbolt.Tx) error {
		if sv := scanVersion(tx); sv <= vs[len(vs)-1] {
			t.Fatalf("scan version %x not after the last change %x", sv, vs[len(vs)-1])
		}
		return nil
	})
}

// Paging and name search follow the newest change of a goods too: a
// removal that arrives after a newer re-add is dropped.
func TestIndexIgnoresOlderGoodsChange(t *testing.T) {
	ci := newCatalogIndex()
	ci.upsert("g1", "milk", []byte(`{"gid":"g1","barcode":"1","gname":"Milk"}`), "1", 5)
	ci.remove("g1", 3)
	ci.upsert("g1", "old name", []byte(`{"gid":"g1","barcode":"1","gname":"Old name"}`), "1", 4)
	if got, total := ci.page("", 0, 10); total != 1 || len(got) != 1 || got[0] != "g1" {
		t.Fatalf("page: %v %d", got, total)
	}
	if got := ci.search("milk", 10); len(got) != 1 {
		t.Fatalf("search milk: %v", got)
	}
	if got := ci.search("old name", 10); len(got) != 0 {
		t.Fatalf("an older name was indexed: %v", got)
	}
	ci.remove("g1", 6)
	if _, total := ci.page("", 0, 10); total != 0 {
		t.Fatalf("removed goods still paged")
	}
}
