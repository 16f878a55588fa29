package catalogindex

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"slices"
	"strings"
	"testing"
)

func newTestIndex(t testing.TB) *Index {
	ix := New(func(*Builder) error { return nil }, nil)
	t.Cleanup(func() { ix.d.free() })
	return ix
}

func weaken(d *data) { d.hash = func(b []byte) uint64 { return uint64(len(b)%3) << 32 } }

// The index answers paging and name search exactly as a plain model
// does, through random upserts, renames, removals and warehouse changes —
// also when every gid hashes alike, so the collision path runs.
func TestIndexMatchesModel(t *testing.T) {
	for _, weakHash := range []bool{false, true} {
		t.Run(fmt.Sprintf("weakHash=%v", weakHash), func(t *testing.T) {
			ix := newTestIndex(t)
			d := ix.d
			if weakHash {
				weaken(d)
			}
			names := map[string]string{}        // gid → lower-cased name
			whs := map[string]map[string]bool{} // wh → gids
			r := rand.New(rand.NewSource(7))
			words := []string{"milk", "牛奶", "cola", "apple", "米", "bread", "有机", "tea"}
			for step := range 5000 {
				gid := fmt.Sprintf("G%03d", r.Intn(400))
				wh := fmt.Sprintf("w%d", r.Intn(3))
				ver := uint64(step + 1)
				switch k := r.Intn(10); {
				case k < 5:
					name := words[r.Intn(len(words))] + " " + words[r.Intn(len(words))] + fmt.Sprint(r.Intn(5))
					raw := fmt.Sprintf(`{"gid":%q,"gname":%q}`, gid, name)
					d.apply(op{kind: opUpsert, gid: gid, lname: name, raw: []byte(raw), ver: ver})
					names[gid] = name
				case k < 6:
					d.apply(op{kind: opRemove, gid: gid, ver: ver})
					delete(names, gid)
					for _, m := range whs {
						delete(m, gid)
					}
				case k < 9:
					d.apply(op{kind: opAddWH, gid: gid, wh: wh, ver: ver})
					if whs[wh] == nil {
						whs[wh] = map[string]bool{}
					}
					whs[wh][gid] = true
				default:
					d.apply(op{kind: opRemoveWH, gid: gid, wh: wh, ver: ver})
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
				if got, total := ix.Page("", 0, 1000); total != len(all) || !slices.Equal(got, all) {
					t.Fatalf("step %d: page %v (%d), want %v", step, got, total, all)
				}
				if got, _ := ix.Page("", 3, 5); !slices.Equal(got, all[min(3, len(all)):min(8, len(all))]) {
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
					if got, _ := ix.Page(wh, 0, 1000); !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
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
					got := ix.Search(q, 1000)
					slices.Sort(got)
					if !slices.Equal(got, want) {
						t.Fatalf("step %d: search %q %v, want %v", step, q, got, want)
					}
				}
				for g, name := range names {
					got, _ := ix.ByGID(g)
					want := fmt.Sprintf(`{"gid":%q,"gname":%q,"stock":0}`, g, name)
					if len(got) != 1 || string(got[0]) != want {
						t.Fatalf("step %d: %s is %s, want %s", step, g, got, want)
					}
				}
			}
		})
	}
}

// A build's lists (frozen, delta-encoded) and the lists of later changes
// together find every name, also after renames away and back.
func TestSearchAcrossBuildAndChanges(t *testing.T) {
	goodsJSON := func(gid, name string) []byte {
		return []byte(fmt.Sprintf(`{"gid":%q,"barcode":"69%s","gname":%q,"price":100,"unit":"pcs"}`, gid, gid[1:], name))
	}
	ix := New(func(b *Builder) error {
		for i := range 3000 {
			gid := fmt.Sprintf("G%05d", i*7)
			b.Goods([]byte(gid), goodsJSON(gid, fmt.Sprintf("Goods %d Milk", i)), 1)
		}
		return nil
	}, nil)
	ix.Rebuild()
	ix.WaitReady()
	if got := ix.Search("milk", 5000); len(got) != 3000 {
		t.Fatalf("built: %d found, want 3000", len(got))
	}
	ix.Upsert("G00007", "goods 1 tea", goodsJSON("G00007", "Goods 1 Tea"), "6900007", 5)
	ix.Upsert("G00007", "goods 1 milk", goodsJSON("G00007", "Goods 1 Milk"), "6900007", 6)
	ix.Upsert("G99999", "new milk", goodsJSON("G99999", "New Milk"), "6999999", 7)
	got := ix.Search("milk", 5000)
	slices.Sort(got)
	if len(got) != 3001 || slices.Compact(slices.Clone(got)) == nil || len(slices.Compact(slices.Clone(got))) != 3001 {
		t.Fatalf("after changes: %d found (%d distinct), want 3001", len(got), len(slices.Compact(slices.Clone(got))))
	}
	if got := ix.Search("1 tea", 10); len(got) != 0 {
		t.Fatalf("old name found: %v", got)
	}
	if got, _ := ix.ByBarcode("6999999", 10); len(got) != 1 || !strings.Contains(string(got[0]), `"gname":"New Milk"`) {
		t.Fatalf("new goods by barcode: %s", got)
	}
}

// A build reads barcode and name from the stored JSON, escapes and all.
func TestBuildReadsKeysFromJSON(t *testing.T) {
	raw, _ := json.Marshal(map[string]any{"gid": "g1", "barcode": "123", "gname": `Tom & "Jerry" <Ü>`})
	ix := New(func(b *Builder) error {
		b.Goods([]byte("g1"), raw, 1)
		b.Stock([]byte("main\x00g1"), []byte("main"), []byte("g1"), true, 7, 1)
		return nil
	}, nil)
	ix.Rebuild()
	ix.WaitReady()
	got, _ := ix.ByBarcode("123", 10)
	want := string(raw[:len(raw)-1]) + `,"stock":7}`
	if len(got) != 1 || string(got[0]) != want {
		t.Fatalf("by barcode: %s, want %s", got, want)
	}
	if got := ix.Search(`"jerry" <ü`, 10); !slices.Equal(got, []string{"g1"}) {
		t.Fatalf("search: %v", got)
	}
}

// Strings keep their bytes across chunk boundaries, including empty ones
// and ones longer than a chunk.
func TestArenaRoundTrip(t *testing.T) {
	var a arena
	defer a.free()
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
		if i%2 == 0 {
			refs = append(refs, a.put([]byte(s)))
		} else {
			refs = append(refs, a.putRecord(record{gid: []byte(s[:n/3]), lname: []byte(s[n/3 : n/2]), packed: []byte(s[n/2:])}))
		}
		want = append(want, s)
	}
	if len(a.chunks) < 3 {
		t.Fatalf("%d chunks: the test should cross chunk boundaries", len(a.chunks))
	}
	for i, ref := range refs {
		got := string(a.view(ref))
		if i%2 == 1 {
			rec := a.getRecord(ref)
			got = string(rec.gid) + string(rec.lname) + string(rec.packed)
			if string(a.gidOf(ref)) != string(rec.gid) {
				t.Fatalf("record %d: gidOf differs", i)
			}
		}
		if got != want[i] {
			t.Fatalf("string %d: %d bytes back, want %d", i, len(got), len(want[i]))
		}
	}
}
