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
		mem, ok := s.idx.ByGID(gid)
		if !ok {
			t.Fatal("index not ready")
		}
		want, err := s.ByGID(gid)
		if err != nil {
			t.Fatal(err)
		}
		same(t, "gid "+gid, mem, want)
		sameBytes(t, s, "gid "+gid, mem, []string{gid})
	}
	for i := range 60 {
		mem, _ := s.idx.ByBarcode(code(i), MaxLookup)
		want, err := s.ByBarcode(code(i))
		if err != nil {
			t.Fatal(err)
		}
		same(t, "barcode "+code(i), mem, want)
		var gids []string
		for _, g := range want {
			gids = append(gids, g.GID)
		}
		sameBytes(t, s, "barcode "+code(i), mem, gids)
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
	if got, total := s.idx.Page("main", 0, 1000); total != len(stocked) || !slices.Equal(got, stocked) {
		t.Fatalf("warehouse list: %d %v\nstore: %d %v", total, got, len(stocked), stocked)
	}
}

func isExpected(err error) bool {
	// Receipts for goods a concurrent page deleted are refused.
	return err != nil && (errors.Is(err, ErrNotFound) || errors.Is(err, ErrConflict))
}

// sameBytes checks the index's replies byte for byte against the goods
// read from bbolt.
func sameBytes(t *testing.T, s *Store, what string, mem []json.RawMessage, gids []string) {
	t.Helper()
	var want []json.RawMessage
	_ = s.View(func(tx *bbolt.Tx) error {
		want = s.rawFor(tx, "", gids)
		return nil
	})
	if len(mem) != len(want) {
		t.Fatalf("%s: %d goods from memory, %d from bbolt", what, len(mem), len(want))
	}
	for i := range mem {
		if string(mem[i]) != string(want[i]) {
			t.Fatalf("%s: memory %s\nbbolt  %s", what, mem[i], want[i])
		}
	}
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
	s.idx.SetBloatSlack(2048)
	built := s.IndexStats().BuiltBytes
	compactions := 0
	for step := range 2000 {
		gid := fmt.Sprintf("g%03d", step%50)
		g := goods.Goods{GID: gid, Barcode: fmt.Sprintf("69%011d", step%50), Name: fmt.Sprintf("goods %s renamed %d", gid, step), Price: int64(step + 1), Unit: "pcs"}
		if _, err := s.ApplyCatalogPage(fmt.Sprint(step), []goods.Goods{g}, nil); err != nil {
			t.Fatal(err)
		}
		// Lookups keep working from memory while a compaction runs.
		if mem, ok := s.idx.ByGID(gid); !ok || len(mem) != 1 {
			t.Fatalf("step %d: lookup during churn: %v %v", step, mem, ok)
		}
		st := s.IndexStats()
		if st.BuiltBytes != built {
			compactions++
			built = st.BuiltBytes
		}
		size := st.ArenaBytes
		if size > 4*built+4*2048+1<<16 {
			t.Fatalf("step %d: arena %d bytes, built %d: not compacted", step, size, built)
		}
	}
	if compactions == 0 {
		t.Fatal("no compaction in 2000 renames")
	}
	for i := range 50 {
		gid := fmt.Sprintf("g%03d", i)
		mem, _ := s.idx.ByGID(gid)
		want, _ := s.ByGID(gid)
		same(t, gid, mem, want)
		sameBytes(t, s, gid, mem, []string{gid})
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
