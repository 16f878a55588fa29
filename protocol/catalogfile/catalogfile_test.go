package catalogfile

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/storebox/storebox/protocol/goods"
)

func readAll(t *testing.T, format Format, in string) ([]Row, error) {
	t.Helper()
	var rows []Row
	err := Read(strings.NewReader(in), format, "main", func(r Row) error {
		rows = append(rows, r)
		return nil
	})
	return rows, err
}

func TestReadCSV(t *testing.T) {
	in := "\uFEFF" + // BOM, as Excel writes it
		"GName , price,unit,gid,stock,barcode,category,mac_ids,rfids\n" +
		"\"农夫山泉 550ml, 24瓶\",  2400,PCS, W001 ,main:10|cold:2,6921168509256,饮料,a4-c1-38-00-00-01|ESL_A4C138000002,e2801160600002084b3d9a11\n" +
		",,,,,,,,\n" + // spreadsheet leftover
		"\n" +
		"苹果 富士,1290,kg,F001,5000, ,生鲜,,\n" +
		"\"Say \"\"cheese\"\"\",99,pcs,X1,,,,,\n"
	rows, err := readAll(t, FormatCSV, in)
	if err != nil {
		t.Fatal(err)
	}
	want := []Row{
		{Line: 2, Goods: goods.Goods{GID: "W001", Barcode: "6921168509256", Name: "农夫山泉 550ml, 24瓶", Price: 2400, Unit: "pcs", Category: "饮料",
			MacIDs: []string{"A4:C1:38:00:00:01", "A4:C1:38:00:00:02"}, RFIDs: []string{"E2801160600002084B3D9A11"}},
			Stock: map[string]int64{"main": 10, "cold": 2}, HasStock: true},
		{Line: 5, Goods: goods.Goods{GID: "F001", Name: "苹果 富士", Price: 1290, Unit: "kg", Category: "生鲜"},
			Stock: map[string]int64{"main": 5000}, HasStock: true},
		{Line: 6, Goods: goods.Goods{GID: "X1", Name: `Say "cheese"`, Price: 99, Unit: "pcs"}},
	}
	if !reflect.DeepEqual(rows, want) {
		t.Fatalf("rows:\n got %+v\nwant %+v", rows, want)
	}
}

func TestReadCSVOnlyRequiredColumns(t *testing.T) {
	rows, err := readAll(t, FormatCSV, "gid,gname,price,unit\r\nA,Apple,5,pcs\r\n")
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].Goods.Name != "Apple" || rows[0].HasStock {
		t.Fatalf("rows = %+v", rows)
	}
	// A header alone is an empty catalog.
	rows, err = readAll(t, FormatCSV, "gid,gname,price,unit\n")
	if err != nil || len(rows) != 0 {
		t.Fatalf("header only: rows %v, err %v", rows, err)
	}
}

func TestReadCSVErrors(t *testing.T) {
	const h = "gid,barcode,gname,price,unit,category,stock,mac_ids,rfids\n"
	tests := []struct {
		name, in string
		line     int
		column   string
		index    int
		contains string
	}{
		{"empty file", "", 1, "", 0, "header row"},
		{"unknown column", "gid,gname,price,unit,colour\n", 1, "colour", 5, `unknown column "colour"`},
		{"repeated column", "gid,gname,price,unit,GID\n", 1, "gid", 5, "appears twice"},
		{"missing columns", "gid,barcode,gname\n", 1, "", 0, "price,unit"},
		{"decimal price", h + "A,,Apple,12.5,pcs,,,,\n", 2, "price", 4, `"12.5" is not an integer amount in minor units (write 1250 for 12.5)`},
		{"decimal price 2", h + "A,,Apple,3.99,pcs,,,,\n", 2, "price", 4, "write 399 for 3.99"},
		{"empty price", h + "A,,Apple,,pcs,,,,\n", 2, "price", 4, "must not be empty"},
		{"plus price", h + "A,,Apple,+5,pcs,,,,\n", 2, "price", 4, "not an integer"},
		{"negative price", h + "A,,Apple,-5,pcs,,,,\n", 2, "price", 4, "must not be negative"},
		{"huge price", h + "A,,Apple,99999999999999,pcs,,,,\n", 2, "price", 4, "is more than"},
		{"bad unit", h + "A,,Apple,5,box,,,,\n", 2, "unit", 5, `"box" is not pcs or kg`},
		{"empty gid", h + " ,,Apple,5,pcs,,,,\n", 2, "gid", 1, "must not be empty"},
		{"empty name", h + "A,,  ,5,pcs,,,,\n", 2, "gname", 3, "must not be empty"},
		{"letters in barcode", h + "A,69012A,Apple,5,pcs,,,,\n", 2, "barcode", 2, "digits only"},
		{"negative stock", h + "A,,Apple,5,pcs,,main:-3,,\n", 2, "stock", 7, "must not be negative"},
		{"fractional stock", h + "A,,Apple,5,pcs,,main:1.5,,\n", 2, "stock", 7, "not a whole number"},
		{"repeated warehouse", h + "A,,Apple,5,pcs,,main:1|main:2,,\n", 2, "stock", 7, "listed twice"},
		{"bare and named same warehouse", h + "A,,Apple,5,pcs,,4|main:2,,\n", 2, "stock", 7, "listed twice"},
		{"empty stock entry", h + "A,,Apple,5,pcs,,main:1||cold:2,,\n", 2, "stock", 7, "empty entry"},
		{"empty warehouse", h + "A,,Apple,5,pcs,,:4,,\n", 2, "stock", 7, "warehouse name must not be empty"},
		{"bad mac", h + "A,,Apple,5,pcs,,,A4:C1:38:00:00,\n", 2, "mac_ids", 8, "not a MAC address"},
		{"empty mac entry", h + "A,,Apple,5,pcs,,,A4:C1:38:00:00:01|,\n", 2, "mac_ids", 8, "not a MAC address"},
		{"mac twice in goods", h + "A,,Apple,5,pcs,,,A4C138000001|a4:c1:38:00:00:01,\n", 2, "mac_ids", 8, "listed twice"},
		{"bad rfid", h + "A,,Apple,5,pcs,,,,E280ZZ\n", 2, "rfids", 9, "rfid"},
		{"odd rfid", h + "A,,Apple,5,pcs,,,,E28011606\n", 2, "rfids", 9, "even number"},
		{"duplicate gid", h + "A,,Apple,5,pcs,,,,\nB,,Pear,5,pcs,,,,\nA,,Apple again,6,pcs,,,,\n", 4, "gid", 1, `duplicate gid "A" (first on line 2)`},
		{"duplicate mac", h + "A,,Apple,5,pcs,,,A4:C1:38:00:00:01,\nB,,Pear,5,pcs,,,a4c138000001,\n", 3, "mac_ids", 8, "already bound to the goods on line 2"},
		{"duplicate rfid", h + "A,,Apple,5,pcs,,,,E2801160600002084B3D9A11\nB,,Pear,5,pcs,,,,e2801160600002084b3d9a11\n", 3, "rfids", 9, "line 2"},
		{"too few fields", h + "A,,Apple,5,pcs\n", 2, "", 0, "5 fields, the header has 9"},
		{"bare quote", h + "A,,Say \"hi\",5,pcs,,,,\n", 2, "", 0, "double quotes"},
		{"unclosed quote", h + "A,,\"Apple,5,pcs,,,,\n", 2, "", 0, "quote"},
		{"invalid utf-8", h + "A,,App\xffle,5,pcs,,,,\n", 2, "gname", 3, "invalid UTF-8"},
		{"gbk file", h + "A,,\xc6\xbb\xb9\xfb,5,pcs,,,,\n", 2, "gname", 3, "save the file as UTF-8"},
		{"control character", h + "A,,\"App\tle\",5,pcs,,,,\n", 2, "gname", 3, "control character"},
		{"long name", h + "A,," + strings.Repeat("长", 201) + ",5,pcs,,,,\n", 2, "gname", 3, "201 characters"},
		{"line counts multi-line fields", h + "A,,\"x\ny\",5,pcs,,,,\n", 2, "gname", 3, "control character"},
		{"row after multi-line field", h + "\"A\nB\",,x,5,pcs,,,,\nC,,y,5.5,pcs,,,,\n", 2, "gid", 1, "control character"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := readAll(t, FormatCSV, tc.in)
			checkRowError(t, err, FormatCSV, tc.line, tc.column, tc.index, 0, tc.contains)
		})
	}
}

func checkRowError(t *testing.T, err error, format Format, line int, column string, index, offset int, contains string) {
	t.Helper()
	var re *RowError
	if !errors.As(err, &re) {
		t.Fatalf("err = %v (%T), want a *RowError", err, err)
	}
	if re.Format != format || re.Line != line || re.Column != column || re.Index != index || (offset >= 0 && re.Offset != offset) {
		t.Errorf("err = %#v: want format %v line %d column %q index %d offset %d", re, format, line, column, index, offset)
	}
	if !strings.Contains(err.Error(), contains) {
		t.Errorf("err = %q, want it to contain %q", err, contains)
	}
}

func TestRowErrorMessage(t *testing.T) {
	const h = "gid,barcode,gname,price,unit,category,stock,mac_ids,rfids\n"
	_, err := readAll(t, FormatCSV, h+strings.Repeat("A1,,x,5,pcs,,,,\n", 0)+"A,,Apple,12.5,pcs,,,,\n")
	want := `line 2, column price (4): "12.5" is not an integer amount in minor units (write 1250 for 12.5)`
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v\nwant %s", err, want)
	}
	_, err = readAll(t, FormatJSONL, `{"gid":"A","gname":"Apple","price":12.5,"unit":"pcs"}`)
	want = `line 1, field price: "12.5" is not an integer amount in minor units (write 1250 for 12.5)`
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v\nwant %s", err, want)
	}
}

func TestReadBareStockNeedsWarehouse(t *testing.T) {
	err := Read(strings.NewReader("gid,gname,price,unit,stock\nA,Apple,5,pcs,7\n"), FormatCSV, "", func(Row) error { return nil })
	checkRowError(t, err, FormatCSV, 2, "stock", 5, 0, "needs a selling warehouse")
	var got Row
	err = Read(strings.NewReader("gid,gname,price,unit,stock\nA,Apple,5,pcs,7\n"), FormatCSV, "front", func(r Row) error { got = r; return nil })
	if err != nil || !reflect.DeepEqual(got.Stock, map[string]int64{"front": 7}) {
		t.Fatalf("stock %v, err %v", got.Stock, err)
	}
	if err := Read(strings.NewReader(""), FormatCSV, "bad name", func(Row) error { return nil }); err == nil {
		t.Fatal("a selling warehouse with a space was accepted")
	}
}

func TestReadJSONL(t *testing.T) {
	in := "\uFEFF" + `{"gid":" W001","barcode":"6921168509256","gname":"农夫山泉 550ml","price":200,"unit":"pcs","category":"饮料","stock":{"main":10,"cold":2},"mac_ids":["a4c138000001"],"rfids":["e2801160600002084b3d9a11"]}` + "\r\n" +
		"\n   \n" +
		`{"gid":"F001","gname":"苹果 富士","price":1290,"unit":"KG","stock":5000}` + "\n" +
		`{"gid":"X1","gname":"empty stock","price":0,"unit":"pcs","stock":{},"mac_ids":[],"rfids":null}`
	rows, err := readAll(t, FormatJSONL, in)
	if err != nil {
		t.Fatal(err)
	}
	want := []Row{
		{Line: 1, Goods: goods.Goods{GID: "W001", Barcode: "6921168509256", Name: "农夫山泉 550ml", Price: 200, Unit: "pcs", Category: "饮料",
			MacIDs: []string{"A4:C1:38:00:00:01"}, RFIDs: []string{"E2801160600002084B3D9A11"}},
			Stock: map[string]int64{"main": 10, "cold": 2}, HasStock: true},
		{Line: 4, Goods: goods.Goods{GID: "F001", Name: "苹果 富士", Price: 1290, Unit: "kg"},
			Stock: map[string]int64{"main": 5000}, HasStock: true},
		{Line: 5, Goods: goods.Goods{GID: "X1", Name: "empty stock", Unit: "pcs"}},
	}
	if !reflect.DeepEqual(rows, want) {
		t.Fatalf("rows:\n got %+v\nwant %+v", rows, want)
	}
}

func TestReadJSONLErrors(t *testing.T) {
	const ok = `{"gid":"A","gname":"Apple","price":5,"unit":"pcs"}` + "\n"
	tests := []struct {
		name, in string
		line     int
		column   string
		offset   int // -1: don't care
		contains string
	}{
		{"unknown field", `{"gid":"A","gname":"Apple","price":5,"unit":"pcs","colour":"red"}`, 1, "colour", 51, `unknown field "colour"`},
		{"syntax", ok + `{"gid":"A",,}`, 2, "", 12, "invalid JSON"},
		{"not closed", ok + "\n" + `{"gid":"A"`, 3, "", -1, "invalid JSON"},
		{"array", `["A"]`, 1, "", 1, "one JSON object per line"},
		{"trailing text", `{"gid":"A","gname":"Apple","price":5,"unit":"pcs"} x`, 1, "", 52, "text after the JSON object"},
		{"two objects", `{"gid":"A","gname":"Apple","price":5,"unit":"pcs"}{"gid":"B"}`, 1, "", 51, "text after"},
		{"decimal price", `{"gid":"A","gname":"Apple","price":3.99,"unit":"pcs"}`, 1, "price", 0, "write 399 for 3.99"},
		{"string price", `{"gid":"A","gname":"Apple","price":"399","unit":"pcs"}`, 1, "price", 0, "without quotes"},
		{"exponent price", `{"gid":"A","gname":"Apple","price":1e3,"unit":"pcs"}`, 1, "price", 0, "not an integer"},
		{"missing price", `{"gid":"A","gname":"Apple","unit":"pcs"}`, 1, "price", 0, "missing"},
		{"missing gid", `{"gname":"Apple","price":5,"unit":"pcs"}`, 1, "gid", 0, "must not be empty"},
		{"missing unit", `{"gid":"A","gname":"Apple","price":5}`, 1, "unit", 0, "not pcs or kg"},
		{"number gid", `{"gid":7,"gname":"Apple","price":5,"unit":"pcs"}`, 1, "gid", 8, "got a JSON number, want a string"},
		{"string mac_ids", `{"gid":"A","gname":"Apple","price":5,"unit":"pcs","mac_ids":"A4:C1:38:00:00:01"}`, 1, "mac_ids", -1, "want an array of strings"},
		{"negative stock", `{"gid":"A","gname":"Apple","price":5,"unit":"pcs","stock":{"main":-1}}`, 1, "stock", 0, "must not be negative"},
		{"fractional stock", `{"gid":"A","gname":"Apple","price":5,"unit":"pcs","stock":{"main":0.5}}`, 1, "stock", 0, "not a whole number"},
		{"string stock", `{"gid":"A","gname":"Apple","price":5,"unit":"pcs","stock":{"main":"5"}}`, 1, "stock", 0, "not a number"},
		{"array stock", `{"gid":"A","gname":"Apple","price":5,"unit":"pcs","stock":[5]}`, 1, "stock", 0, "want"},
		{"repeated warehouse", `{"gid":"A","gname":"Apple","price":5,"unit":"pcs","stock":{"main":1,"main":2}}`, 1, "stock", 0, "listed twice"},
		{"bad warehouse", `{"gid":"A","gname":"Apple","price":5,"unit":"pcs","stock":{"a b":1}}`, 1, "stock", 0, "must not contain spaces"},
		{"invalid utf-8", `{"gid":"A","gname":"App` + "\xff" + `le","price":5,"unit":"pcs"}`, 1, "", 24, "invalid UTF-8"},
		{"duplicate gid", ok + "\n" + ok, 3, "gid", 0, "first on line 1"},
		{"duplicate rfid", `{"gid":"A","gname":"Apple","price":5,"unit":"pcs","rfids":["E2801160600002084B3D9A11"]}` + "\n" + `{"gid":"B","gname":"B","price":5,"unit":"pcs","rfids":["E2801160600002084B3D9A11"]}`, 2, "rfids", 0, "line 1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := readAll(t, FormatJSONL, tc.in)
			checkRowError(t, err, FormatJSONL, tc.line, tc.column, 0, tc.offset, tc.contains)
		})
	}
}

func TestRowTooLong(t *testing.T) {
	long := strings.Repeat("x", MaxRowBytes+10)
	_, err := readAll(t, FormatJSONL, `{"gid":"A","gname":"`+long+`","price":5,"unit":"pcs"}`)
	if !errors.Is(err, errRowTooLong) {
		t.Fatalf("jsonl: err = %v", err)
	}
	// An unclosed quote must not make the reader swallow the whole file.
	_, err = readAll(t, FormatCSV, "gid,gname,price,unit\nA,\""+long+strings.Repeat("z", 200<<10)+"\n")
	var re *RowError
	if !errors.Is(err, errRowTooLong) || !errors.As(err, &re) || re.Line != 2 {
		t.Fatalf("csv: err = %v", err)
	}
	// Just under the limit is fine.
	name := strings.Repeat("y", 150)
	rows, err := readAll(t, FormatCSV, "gid,gname,price,unit\nA,"+name+",1,pcs\n")
	if err != nil || len(rows) != 1 {
		t.Fatalf("csv: rows %d err %v", len(rows), err)
	}
}

func TestCallbackError(t *testing.T) {
	stop := errors.New("store full")
	n := 0
	err := Read(strings.NewReader("gid,gname,price,unit\nA,a,1,pcs\nB,b,1,pcs\nC,c,1,pcs\n"), FormatCSV, "main", func(r Row) error {
		n++
		if r.Goods.GID == "B" {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 2 || !strings.Contains(err.Error(), "line 3") {
		t.Fatalf("err = %v after %d rows", err, n)
	}
}

func TestReadUnknownFormat(t *testing.T) {
	if err := Read(strings.NewReader("x"), FormatUnknown, "main", func(Row) error { return nil }); err == nil {
		t.Fatal("unknown format accepted")
	}
	w := NewWriter(io.Discard, FormatUnknown)
	if w.Write(goods.Goods{GID: "A", Name: "a", Unit: "pcs"}, nil) == nil || w.Flush() == nil {
		t.Fatal("writer for an unknown format accepted goods")
	}
}

// tricky is a catalog that exercises quoting, Chinese text, weighed goods,
// several warehouses, e-label MACs and RFID tags.
func tricky() []Row {
	return []Row{
		{Goods: goods.Goods{GID: "6921168509256", Barcode: "6921168509256", Name: "农夫山泉 饮用天然水 550ml", Price: 200, Unit: "pcs", Category: "饮料 Drinks",
			MacIDs: []string{"A4:C1:38:00:00:01"}}, Stock: map[string]int64{"main": 120, "backroom": 480}, HasStock: true},
		{Goods: goods.Goods{GID: "coke-330", Barcode: "5449000000996", Name: `Coca-Cola 330ml, "Classic"`, Price: 350, Unit: "pcs", Category: "Drinks, soft"},
			Stock: map[string]int64{"main": 0, "cold": 24, "backroom": 3}, HasStock: true},
		{Goods: goods.Goods{GID: "F-APPLE", Name: "苹果 富士 (kg)", Price: 1290, Unit: "kg", Category: "生鲜",
			RFIDs: []string{"E2801160600002084B3D9A11", "E2801160600002084B3D9A12"}}, Stock: map[string]int64{"cold": 25500}, HasStock: true},
		{Goods: goods.Goods{GID: "F-BANANA", Barcode: "2000001000007", Name: "bananas (kg)", Price: 699, Unit: "kg",
			MacIDs: []string{"A4:C1:38:00:00:02", "A4:C1:38:00:00:03"}}},
		{Goods: goods.Goods{GID: "x,y\"z", Name: " leading space and trailing ", Price: 0, Unit: "pcs", Category: "  "}},
		{Goods: goods.Goods{GID: "ZERO", Name: "'=1+1", Price: MaxAmount, Unit: "pcs"}, Stock: map[string]int64{"冷库": MaxAmount}, HasStock: true},
		{Goods: goods.Goods{GID: "EMOJI", Name: "🍎 Äpfel ñ 日本酒", Price: 1, Unit: "pcs"}},
	}
}

func TestRoundTrip(t *testing.T) {
	for _, format := range []Format{FormatCSV, FormatJSONL} {
		t.Run(format.String(), func(t *testing.T) {
			want := tricky()
			var buf bytes.Buffer
			w := NewWriter(&buf, format)
			for _, r := range want {
				if err := w.Write(r.Goods, r.Stock); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			if got := DetectFormat("", buf.Bytes()); got != format {
				t.Errorf("DetectFormat = %v, want %v", got, format)
			}
			first := buf.String()
			var got []Row
			if err := Read(&buf, format, "", func(r Row) error { got = append(got, r); return nil }); err != nil {
				t.Fatalf("%v\n%s", err, first)
			}
			if len(got) != len(want) {
				t.Fatalf("read %d rows, wrote %d", len(got), len(want))
			}
			for i := range want {
				want[i].Line = got[i].Line
				if !reflect.DeepEqual(got[i], want[i]) {
					t.Errorf("row %d:\n got %+v\nwant %+v", i, got[i], want[i])
				}
			}
			// Writing what was read gives the same bytes.
			var again bytes.Buffer
			w = NewWriter(&again, format)
			for _, r := range got {
				if err := w.Write(r.Goods, r.Stock); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			if again.String() != first {
				t.Errorf("second export differs:\n%s\n---\n%s", first, again.String())
			}
		})
	}
}

func TestWriterRefusesWhatReaderRejects(t *testing.T) {
	good := goods.Goods{GID: "A", Name: "Apple", Price: 5, Unit: "pcs"}
	tests := []struct {
		name   string
		g      goods.Goods
		stock  map[string]int64
		column string
	}{
		{"newline in name", goods.Goods{GID: "A", Name: "a\nb", Unit: "pcs"}, nil, "gname"},
		{"negative price", goods.Goods{GID: "A", Name: "a", Price: -1, Unit: "pcs"}, nil, "price"},
		{"bad unit", goods.Goods{GID: "A", Name: "a", Unit: "box"}, nil, "unit"},
		{"negative stock", good, map[string]int64{"main": -1}, "stock"},
		{"bad warehouse", good, map[string]int64{"a:b": 1}, "stock"},
		{"invalid utf-8", goods.Goods{GID: "A", Name: "\xff", Unit: "pcs"}, nil, "gname"},
		{"bad mac", goods.Goods{GID: "A", Name: "a", Unit: "pcs", MacIDs: []string{"nope"}}, nil, "mac_ids"},
	}
	for _, format := range []Format{FormatCSV, FormatJSONL} {
		for _, tc := range tests {
			t.Run(format.String()+"/"+tc.name, func(t *testing.T) {
				var buf bytes.Buffer
				w := NewWriter(&buf, format)
				var re *RowError
				if err := w.Write(tc.g, tc.stock); !errors.As(err, &re) || re.Column != tc.column {
					t.Fatalf("err = %v, want a RowError on %s", err, tc.column)
				}
				// The writer goes on after a refused goods.
				if err := w.Write(good, nil); err != nil {
					t.Fatal(err)
				}
				if err := w.Flush(); err != nil {
					t.Fatal(err)
				}
				rows, err := readAll(t, format, buf.String())
				if err != nil || len(rows) != 1 {
					t.Fatalf("rows %v err %v", rows, err)
				}
			})
		}
		t.Run(format.String()+"/duplicate gid", func(t *testing.T) {
			w := NewWriter(io.Discard, format)
			if err := w.Write(good, nil); err != nil {
				t.Fatal(err)
			}
			if err := w.Write(good, nil); err == nil || !strings.Contains(err.Error(), "duplicate gid") {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

func TestWriterDoesNotModifyInput(t *testing.T) {
	macs := []string{"a4c138000001"}
	g := goods.Goods{GID: "A", Name: "a", Unit: "PCS", MacIDs: macs}
	if err := NewWriter(io.Discard, FormatCSV).Write(g, nil); err != nil {
		t.Fatal(err)
	}
	if macs[0] != "a4c138000001" || g.Unit != "PCS" {
		t.Fatal("Write changed the caller's goods")
	}
}

func TestEmptyCSVExportHasHeader(t *testing.T) {
	var buf bytes.Buffer
	if err := NewWriter(&buf, FormatCSV).Flush(); err != nil {
		t.Fatal(err)
	}
	if buf.String() != "gid,barcode,gname,price,unit,category,stock,mac_ids,rfids\n" {
		t.Fatalf("got %q", buf.String())
	}
}

func TestCSVAndJSONLAgree(t *testing.T) {
	csvIn := "gid,gname,price,unit,stock,mac_ids\nA,苹果,1290,kg,main:1|cold:2,A4:C1:38:00:00:01\nB,Pear,5,pcs,3,\n"
	jsonIn := `{"gid":"A","gname":"苹果","price":1290,"unit":"kg","stock":{"main":1,"cold":2},"mac_ids":["A4:C1:38:00:00:01"]}` + "\n" +
		`{"gid":"B","gname":"Pear","price":5,"unit":"pcs","stock":3}` + "\n"
	a, err := readAll(t, FormatCSV, csvIn)
	if err != nil {
		t.Fatal(err)
	}
	b, err := readAll(t, FormatJSONL, jsonIn)
	if err != nil {
		t.Fatal(err)
	}
	for i := range a {
		a[i].Line, b[i].Line = 0, 0
	}
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("csv %+v\njsonl %+v", a, b)
	}
}

func TestDetectFormat(t *testing.T) {
	tests := []struct {
		name  string
		first string
		want  Format
	}{
		{"catalog.csv", "gid,gname\n", FormatCSV},
		{"CATALOG.CSV", "", FormatCSV},
		{"catalog.jsonl", "", FormatJSONL},
		{"x.ndjson", "", FormatJSONL},
		{"catalog.csv", "\uFEFF  \n{\"gid\":1}", FormatJSONL}, // content beats a misleading name
		{"", "\uFEFFGName,\"GID\",price\n", FormatCSV},
		{"upload.bin", "barcode,gid\n", FormatCSV},
		{"", "hello world", FormatUnknown},
		{"", "", FormatUnknown},
	}
	for _, tc := range tests {
		if got := DetectFormat(tc.name, []byte(tc.first)); got != tc.want {
			t.Errorf("DetectFormat(%q, %q) = %v, want %v", tc.name, tc.first, got, tc.want)
		}
	}
}

func TestParseFormat(t *testing.T) {
	for s, want := range map[string]Format{"csv": FormatCSV, "CSV": FormatCSV, "jsonl": FormatJSONL, "ndjson": FormatJSONL} {
		if got, err := ParseFormat(s); err != nil || got != want {
			t.Errorf("ParseFormat(%q) = %v, %v", s, got, err)
		}
	}
	if _, err := ParseFormat("xml"); err == nil {
		t.Error("ParseFormat(xml) succeeded")
	}
}

func TestNormalizeMAC(t *testing.T) {
	for in, want := range map[string]string{
		"A4:C1:38:00:00:01":  "A4:C1:38:00:00:01",
		"a4:c1:38:0a:bc:ef":  "A4:C1:38:0A:BC:EF",
		"a4-c1-38-00-00-01":  "A4:C1:38:00:00:01",
		"A4C138000001":       "A4:C1:38:00:00:01",
		"ESL_A4C138000001":   "A4:C1:38:00:00:01",
		"esl_a4c1380000ff":   "A4:C1:38:00:00:FF",
		" A4:C1:38:00:00:01": "A4:C1:38:00:00:01",
	} {
		if got, err := NormalizeMAC(in); err != nil || got != want {
			t.Errorf("NormalizeMAC(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "A4:C1:38:00:00", "A4:C1-38:00:00:01", "A4:C1:38:00:00:0G", "A4C13800000", "ESL_", "A4.C1.38.00.00.01", "A4:C1:38:00:00:01:02"} {
		if got, err := NormalizeMAC(in); err == nil {
			t.Errorf("NormalizeMAC(%q) = %q, want an error", in, got)
		}
	}
}

func TestNormalizeEPC(t *testing.T) {
	if got, err := NormalizeEPC("e2801160600002084b3d9a11"); err != nil || got != "E2801160600002084B3D9A11" {
		t.Errorf("got %q, %v", got, err)
	}
	for _, in := range []string{"", "E280116", "E28011606", "E2801160600002084B3D9A1G", strings.Repeat("A", 126)} {
		if _, err := NormalizeEPC(in); err == nil {
			t.Errorf("NormalizeEPC(%q) succeeded", in)
		}
	}
}

func TestEAN13(t *testing.T) {
	for _, s := range []string{"6921168509256", "5449000000996", "4006381333931", "9780306406157", "6900000000007"} {
		if !ValidEAN13(s) {
			t.Errorf("ValidEAN13(%q) = false", s)
		}
	}
	for _, s := range []string{"6921168509257", "692116850925", "69211685092561", "692116850925A", "", "4006381333932"} {
		if ValidEAN13(s) {
			t.Errorf("ValidEAN13(%q) = true", s)
		}
	}
	if d, err := EAN13CheckDigit("400638133393"); err != nil || d != '1' {
		t.Errorf("EAN13CheckDigit = %c, %v", d, err)
	}
	if _, err := EAN13CheckDigit("4006"); err == nil {
		t.Error("EAN13CheckDigit accepted 4 digits")
	}
}
