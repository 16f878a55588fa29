package catalogindex

import (
	"fmt"
	"math/rand"
	"testing"
)

// BenchmarkLookupByCode is one getGoods by barcode against a
// million-goods index, at random barcodes.
func BenchmarkLookupByCode(b *testing.B) {
	ix := newTestIndex(b)
	const n = 1_000_000
	for i := range n {
		gid := fmt.Sprintf("%07d", i)
		code := fmt.Sprintf("69%011d", i)
		raw := fmt.Sprintf(`{"gid":"%s","barcode":"%s","gname":"Goods number %d with a name of a usual length","price":%d,"unit":"pcs","category":"grocery"}`, gid, code, i, i%9999)
		ix.d.apply(op{kind: opUpsert, gid: gid, lname: "goods", raw: []byte(raw), code: code, ver: 1})
		ix.d.apply(op{kind: opStock, gid: gid, avail: int64(i % 50), ver: 1})
	}
	// Codes drawn over the whole catalog, so each lookup misses the CPU
	// caches as a till's scans do; they sit back to back in one buffer
	// so reading them costs no misses of its own.
	r := rand.New(rand.NewSource(1))
	const m = 1 << 20
	codes := make([]byte, 0, m*13)
	for range m {
		codes = fmt.Appendf(codes, "69%011d", r.Intn(n))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		j := i % m * 13
		if out, ok := ix.ByBarcode(string(codes[j:j+13]), 100); !ok || len(out) != 1 {
			b.Fatal("not found")
		}
	}
}
