package catalogfile

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/storebox/storebox/protocol/goods"
)

const sampleDir = "../../packaging/sample"

func readSample(t *testing.T, name string) ([]Row, []byte) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(sampleDir, name))
	if err != nil {
		t.Fatal(err)
	}
	format := DetectFormat(name, data)
	var rows []Row
	if err := Read(bytes.NewReader(data), format, "main", func(r Row) error { rows = append(rows, r); return nil }); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return rows, data
}

// TestSampleCatalog checks the shipped sample: it parses, CSV and JSON Lines
// hold the same goods, every barcode is a valid EAN-13, it covers what a demo
// needs, and each file is in the writers' canonical form.
func TestSampleCatalog(t *testing.T) {
	csvRows, csvData := readSample(t, "catalog.csv")
	jsonRows, jsonData := readSample(t, "catalog.jsonl")
	if n := len(csvRows); n < 60 || n > 120 {
		t.Errorf("sample has %d goods, want 60–120", n)
	}
	if len(csvRows) != len(jsonRows) {
		t.Fatalf("catalog.csv has %d goods, catalog.jsonl %d", len(csvRows), len(jsonRows))
	}
	warehouses := map[string]bool{}
	var kg, macs, rfids, chinese, english int
	for i, r := range csvRows {
		j := jsonRows[i]
		j.Line = r.Line
		if !reflect.DeepEqual(r, j) {
			t.Errorf("goods %d differs:\n csv   %+v\n jsonl %+v", i, r, j)
		}
		g := r.Goods
		if !ValidEAN13(g.Barcode) {
			t.Errorf("line %d: barcode %q of %s is not a valid EAN-13", r.Line, g.Barcode, g.Name)
		}
		if !r.HasStock {
			t.Errorf("line %d: %s has no stock", r.Line, g.Name)
		}
		for wh := range r.Stock {
			warehouses[wh] = true
		}
		if g.Unit == goods.UnitKg {
			kg++
		}
		macs += len(g.MacIDs)
		rfids += len(g.RFIDs)
		for _, c := range g.Name {
			if c >= 0x4e00 && c <= 0x9fff {
				chinese++
				break
			}
		}
		for _, c := range g.Name {
			if c >= 'a' && c <= 'z' {
				english++
				break
			}
		}
	}
	for _, wh := range []string{"main", "backroom", "cold"} {
		if !warehouses[wh] {
			t.Errorf("no goods stocked in warehouse %s", wh)
		}
	}
	if kg < 5 || macs < 10 || rfids < 5 || chinese < 20 || english < 20 {
		t.Errorf("sample lacks variety: %d kg goods, %d mac_ids, %d rfids, %d Chinese and %d English names", kg, macs, rfids, chinese, english)
	}

	for _, tc := range []struct {
		format Format
		data   []byte
	}{{FormatCSV, csvData}, {FormatJSONL, jsonData}} {
		var buf bytes.Buffer
		w := NewWriter(&buf, tc.format)
		for _, r := range csvRows {
			if err := w.Write(r.Goods, r.Stock); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf.Bytes(), tc.data) {
			t.Errorf("the %v sample is not what the writer produces; regenerate it from an export", tc.format)
		}
	}
}
