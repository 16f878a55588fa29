package store

import (
	"fmt"
	"math/rand"
	"slices"
	"strings"
	"testing"
)

// The arena-backed index answers paging and name search exactly as a plain
// model does, through random upserts, renames, removals and warehouse
// changes — also when every gid hashes alike, so the collision path runs.
func TestCatalogIndexMatchesModel(t *testing.T) {
	for _, weakHash := range []bool{false, true} {
		t.Run(fmt.Sprintf("weakHash=%v", weakHash), func(t *testing.T) {
			ci := newCatalogIndex()
			if weakHash {
				ci.names.ids.hash = func(b []byte) uint64 { return uint64(len(b) % 3) }
			}
			names := map[string]string{}        // gid → lower-cased name
			whs := map[string]map[string]bool{} // wh → gids
			r := rand.New(rand.NewSource(7))
			words := []string{"milk", "牛奶", "cola", "apple", "米", "bread", "有机", "tea"}
			for step := range 5000 {
				gid := fmt.Sprintf("G%03d", r.Intn(400))
				wh := fmt.Sprintf("w%d", r.Intn(3))
				switch k := r.Intn(10); {
				case k < 5:
					name := words[r.Intn(len(words))] + " " + words[r.Intn(len(words))] + fmt.Sprint(r.Intn(5))
					ci.apply(indexOp{kind: opUpsert, gid: gid, lname: name})
					names[gid] = name
				case k < 6:
					ci.apply(indexOp{kind: opRemove, gid: gid})
					delete(names, gid)
					for _, m := range whs {
						delete(m, gid)
					}
				case k < 9:
					ci.apply(indexOp{kind: opAddWH, gid: gid, wh: wh})
					if whs[wh] == nil {
						whs[wh] = map[string]bool{}
					}
					whs[wh][gid] = true
				default:
					ci.apply(indexOp{kind: opRemoveWH, gid: gid, wh: wh})
					delete(whs[wh], gid)
				}
				if step%250 != 0 {
					continue
				}
				all := slices.Sorted(func(yield func(string) bool) {
					for g := range names {
						if !yield(g) {
							return
						}
					}
				})
				if got, total := ci.page("", 0, 1000); total != len(all) || !slices.Equal(got, all) {
					t.Fatalf("step %d: page %v (%d), want %v", step, got, total, all)
				}
				if got, _ := ci.page("", 3, 5); !slices.Equal(got, all[min(3, len(all)):min(8, len(all))]) {
					t.Fatalf("step %d: page 3+5 %v", step, got)
				}
				for wh, m := range whs {
					want := slices.Sorted(func(yield func(string) bool) {
						for g := range m {
							if !yield(g) {
								return
							}
						}
					})
					if got, _ := ci.page(wh, 0, 1000); !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
						t.Fatalf("step %d: warehouse %s %v, want %v", step, wh, got, want)
					}
				}
				for _, q := range []string{"milk", "牛奶", "apple 米", "e", "米", "tea2", "nothing"} {
					var want []string
					for _, g := range all {
						if strings.Contains(names[g], q) {
							want = append(want, g)
						}
					}
					got := ci.search(q, 1000)
					slices.Sort(got)
					if !slices.Equal(got, want) {
						t.Fatalf("step %d: search %q %v, want %v", step, q, got, want)
					}
				}
			}
		})
	}
}

// Strings keep their bytes across chunk boundaries, including empty ones
// and ones longer than a chunk.
func TestArenaRoundTrip(t *testing.T) {
	var a arena
	r := rand.New(rand.NewSource(1))
	var refs []sref
	var want []string
	for i := range 3000 {
		n := r.Intn(2000)
		switch i {
		case 7:
			n = 0
		case 11:
			n = arenaChunk + 5
		}
		s := strings.Repeat(string(rune('a'+i%26)), n)
		refs = append(refs, a.put([]byte(s)))
		want = append(want, s)
	}
	if len(a.chunks) < 3 {
		t.Fatalf("%d chunks: the test should cross chunk boundaries", len(a.chunks))
	}
	for i, ref := range refs {
		if a.str(ref) != want[i] {
			t.Fatalf("string %d: %d bytes back, want %d", i, len(a.str(ref)), len(want[i]))
		}
	}
}
