package catalogfile_test

import (
	"bytes"
	"io"
	"runtime"
	"sync"
	"testing"

	"github.com/storebox/storebox/protocol/catalogfile"
	"github.com/storebox/storebox/protocol/catalogfile/synth"
)

// writeSynth writes goods [0, n) of the synthetic catalog.
func writeSynth(tb testing.TB, w io.Writer, format catalogfile.Format, n int) {
	tb.Helper()
	cw := catalogfile.NewWriter(w, format)
	for i := range n {
		g, stock := synth.Goods(i)
		if err := cw.Write(g, stock); err != nil {
			tb.Fatal(err)
		}
	}
	if err := cw.Flush(); err != nil {
		tb.Fatal(err)
	}
}

var (
	bigOnce [3]sync.Once
	big     [3][]byte
)

const benchRows = 1_000_000

func bigFile(b *testing.B, format catalogfile.Format) []byte {
	bigOnce[format].Do(func() {
		var buf bytes.Buffer
		writeSynth(b, &buf, format, benchRows)
		big[format] = buf.Bytes()
	})
	return big[format]
}

// BenchmarkRead1M parses a synthetic 1,000,000-goods catalog per iteration
// and reports rows/s. Run: go test -run XXX -bench Read1M -benchtime 3x ./protocol/catalogfile/
func BenchmarkRead1M(b *testing.B) {
	for _, format := range []catalogfile.Format{catalogfile.FormatCSV, catalogfile.FormatJSONL} {
		b.Run(format.String(), func(b *testing.B) {
			data := bigFile(b, format)
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				n := 0
				err := catalogfile.Read(bytes.NewReader(data), format, "main", func(catalogfile.Row) error { n++; return nil })
				if err != nil || n != benchRows {
					b.Fatalf("read %d rows: %v", n, err)
				}
			}
			b.ReportMetric(float64(benchRows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// BenchmarkWrite1M exports a synthetic 1,000,000-goods catalog per iteration.
func BenchmarkWrite1M(b *testing.B) {
	for _, format := range []catalogfile.Format{catalogfile.FormatCSV, catalogfile.FormatJSONL} {
		b.Run(format.String(), func(b *testing.B) {
			for b.Loop() {
				writeSynth(b, io.Discard, format, benchRows)
			}
			b.ReportMetric(float64(benchRows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// TestReadMemoryBounded checks that what stays live after reading a catalog
// is the duplicate-check sets, not the rows. The file itself is made before
// the measurement starts.
func TestReadMemoryBounded(t *testing.T) {
	const n = 30_000
	for _, format := range []catalogfile.Format{catalogfile.FormatCSV, catalogfile.FormatJSONL} {
		t.Run(format.String(), func(t *testing.T) {
			var file bytes.Buffer
			writeSynth(t, &file, format, n)
			pr := bytes.NewReader(file.Bytes())
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			rows, textBytes, values := 0, 0, 0
			err := catalogfile.Read(pr, format, "main", func(r catalogfile.Row) error {
				rows++
				textBytes += len(r.Goods.Name) + len(r.Goods.GID) + len(r.Goods.Barcode)
				values += 1 + len(r.Goods.MacIDs) + len(r.Goods.RFIDs)
				if rows == n {
					runtime.GC()
					runtime.ReadMemStats(&after)
				}
				return nil
			})
			if err != nil || rows != n {
				t.Fatalf("read %d rows: %v", rows, err)
			}
			grew := int64(after.HeapAlloc) - int64(before.HeapAlloc)
			t.Logf("%d rows (%d bytes of names, gids, barcodes): live heap grew %d bytes", n, textBytes, grew)
			// The sets cost 24 bytes a slot, at worst half empty after
			// growing, plus table directories: under 80 bytes per value. Keeping the rows would cost their
			// text plus some 200 bytes of structure each.
			if limit := 80*int64(values) + 1<<20; grew > limit || grew > int64(textBytes)+200*n {
				t.Fatalf("live heap grew %d bytes after %d rows, more than %d: rows are being retained", grew, n, limit)
			}
		})
	}
}
