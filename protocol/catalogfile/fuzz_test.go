package catalogfile

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

// Seeds live in testdata/fuzz/FuzzReadCSV and testdata/fuzz/FuzzReadJSONL.

func FuzzReadCSV(f *testing.F)   { fuzzRead(f, FormatCSV) }
func FuzzReadJSONL(f *testing.F) { fuzzRead(f, FormatJSONL) }

// fuzzRead checks that the reader never panics, reports every failure as a
// *RowError, and that whatever it accepts survives export and re-import in
// both formats unchanged.
func fuzzRead(f *testing.F, format Format) {
	f.Fuzz(func(t *testing.T, data []byte) { fuzzOnce(t, data, format) })
}

func fuzzOnce(t *testing.T, data []byte, format Format) {
	{
		var rows []Row
		err := Read(bytes.NewReader(data), format, "main", func(r Row) error {
			rows = append(rows, r)
			return nil
		})
		if err != nil {
			var re *RowError
			if !errors.As(err, &re) {
				t.Fatalf("error is not a *RowError: %v", err)
			}
			return
		}
		for _, out := range []Format{FormatCSV, FormatJSONL} {
			var buf bytes.Buffer
			w := NewWriter(&buf, out)
			for _, r := range rows {
				if err := w.Write(r.Goods, r.Stock); err != nil {
					t.Fatalf("%v writer refused a row the %v reader accepted: %v", out, format, err)
				}
			}
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			i := 0
			err := Read(bytes.NewReader(buf.Bytes()), out, "", func(r Row) error {
				want := rows[i]
				want.Line = r.Line
				if !reflect.DeepEqual(r, want) {
					t.Fatalf("%v round trip of row %d:\n got %+v\nwant %+v", out, i, r, want)
				}
				i++
				return nil
			})
			if err != nil {
				t.Fatalf("re-import of %v export: %v\n%s", out, err, buf.Bytes())
			}
			if i != len(rows) {
				t.Fatalf("%v re-import read %d rows of %d", out, i, len(rows))
			}
		}
	}
}
