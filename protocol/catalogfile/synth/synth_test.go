package synth

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/storebox/storebox/protocol/catalogfile"
)

func TestGoodsDeterministicAndValid(t *testing.T) {
	for _, i := range []int{0, 1, 9, 12345, 1<<24 - 1, 1 << 24, 999_999_999} {
		g1, s1 := Goods(i)
		g2, s2 := Goods(i)
		if !reflect.DeepEqual(g1, g2) || !reflect.DeepEqual(s1, s2) {
			t.Errorf("Goods(%d) is not deterministic", i)
		}
		if !catalogfile.ValidEAN13(g1.Barcode) {
			t.Errorf("Goods(%d).Barcode = %q is not a valid EAN-13", i, g1.Barcode)
		}
		if err := g1.Validate(); err != nil {
			t.Errorf("Goods(%d): %v", i, err)
		}
	}
}

// MACs switch prefix at 2^24 goods; the two ranges must not collide.
func TestMACsUniqueAcrossPrefixes(t *testing.T) {
	seen := map[string]int{}
	for _, base := range []int{0, 1 << 24} {
		for i := base; i < base+2000; i++ {
			g, _ := Goods(i)
			for _, m := range g.MacIDs {
				if j, dup := seen[m]; dup {
					t.Fatalf("goods %d and %d share mac_id %s", j, i, m)
				}
				seen[m] = i
			}
		}
	}
	if len(seen) == 0 {
		t.Fatal("no mac_ids generated")
	}
}

func TestWriteFileReadsBack(t *testing.T) {
	path := filepath.Join(t.TempDir(), "goods.csv")
	if err := WriteFile(path, catalogfile.FormatCSV, 50); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	err = catalogfile.Read(f, catalogfile.FormatCSV, "main", func(r catalogfile.Row) error {
		if want, _ := Goods(n); r.Goods.GID != want.GID {
			t.Errorf("row %d is %s, want %s", n, r.Goods.GID, want.GID)
		}
		n++
		return nil
	})
	if err != nil || n != 50 {
		t.Fatalf("read back %d goods, err %v; want 50", n, err)
	}
}
