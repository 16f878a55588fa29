package store

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"go.etcd.io/bbolt"

	"github.com/storebox/storebox/protocol/goods"
)

func openTest(t *testing.T) (*Store, string) {
	t.Helper()
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, dir
}

func rows(gs ...ImportRow) func(func(ImportRow) error) error {
	return func(yield func(ImportRow) error) error {
		for _, r := range gs {
			if err := yield(r); err != nil {
				return err
			}
		}
		return nil
	}
}

func row(line int, gid, barcode, name string, price int64, stock int64, macs ...string) ImportRow {
	return ImportRow{Line: line, Goods: goods.Goods{GID: gid, Barcode: barcode, Name: name, Price: price, Unit: "pcs", MacIDs: macs}, Stock: map[string]int64{"main": stock}, HasStock: true}
}

func TestImportLookupsAndPaging(t *testing.T) {
	s, _ := openTest(t)
	res, err := s.Import(rows(
		row(2, "g1", "6901234567892", "农夫山泉 550ml", 200, 10, "ESL_1"),
		row(3, "g2", "5449000000996", "Coca-Cola 330ml", 350, 0),
		ImportRow{Line: 4, Goods: goods.Goods{GID: "g3", Name: "Apple Fuji", Price: 1290, Unit: "kg", RFIDs: []string{"e280aa"}}, Stock: map[string]int64{"cold": 5000}, HasStock: true},
	), ImportOptions{})
	if err != nil || res.Created != 3 {
		t.Fatalf("import: %+v %v", res, err)
	}
	if g, _ := s.ByBarcode("6901234567892"); len(g) != 1 || g[0].GID != "g1" || g[0].Stock != 10 {
		t.Fatalf("by barcode: %+v", g)
	}
	if g, _ := s.ByMac("esl_1"); len(g) != 1 || g[0].GID != "g1" {
		t.Fatalf("by mac: %+v", g)
	}
	if g, _ := s.ByRFIDs([]string{"E280AA", "nope"}); len(g) != 1 || g[0].GID != "g3" {
		t.Fatalf("by rfid: %+v", g)
	}
	if g, _ := s.SearchName("COLA", 10); len(g) != 1 || g[0].GID != "g2" {
		t.Fatalf("by name: %+v", g)
	}
	if g, _ := s.SearchName("山泉", 10); len(g) != 1 || g[0].GID != "g1" {
		t.Fatalf("by chinese name: %+v", g)
	}
	if g, _ := s.SearchName("a", 10); len(g) != 2 {
		t.Fatalf("single rune: %+v", g)
	}
	page, total, _ := s.AllGoods(1, 1)
	if total != 3 || len(page) != 1 || page[0].GID != "g2" {
		t.Fatalf("page: %+v %d", page, total)
	}
	wg, total, _ := s.WarehouseGoods("cold", 0, 10)
	if total != 1 || wg[0].Stock != 5000 {
		t.Fatalf("warehouse: %+v %d", wg, total)
	}
}

func TestImportAllOrNothing(t *testing.T) {
	s, _ := openTest(t)
	if _, err := s.Import(rows(row(2, "g1", "1", "one", 1, 1)), ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err := s.Import(rows(row(2, "g2", "2", "two", 1, 1), ImportRow{Line: 3, Goods: goods.Goods{GID: "g3", Name: "bad", Unit: "box"}}), ImportOptions{Replace: true})
	if err == nil || !strings.Contains(err.Error(), "line 3") {
		t.Fatalf("want line 3 error, got %v", err)
	}
	if s.GoodsCount() != 1 {
		t.Fatalf("catalog changed by failed import: %d goods", s.GoodsCount())
	}
	if g, _ := s.ByGID("g2"); len(g) != 0 {
		t.Fatal("g2 leaked from failed import")
	}
	// Replace drops goods not in the file.
	if res, err := s.Import(rows(row(2, "g2", "2", "two", 1, 1)), ImportOptions{Replace: true}); err != nil || res.Deleted != 1 {
		t.Fatalf("replace: %+v %v", res, err)
	}
	if g, _ := s.ByBarcode("1"); len(g) != 0 {
		t.Fatal("index of deleted goods remains")
	}
}

func TestReceiveIdempotentByRef(t *testing.T) {
	s, _ := openTest(t)
	s.Import(rows(row(2, "g1", "1", "one", 1, 0)), ImportOptions{})
	p1, err := s.Receive("R1", "", []Line{{GID: "g1", Qty: 5}}, "T-01")
	if err != nil {
		t.Fatal(err)
	}
	p2, err := s.Receive("R1", "", []Line{{GID: "g1", Qty: 5}}, "T-01")
	if err != nil || p1 != p2 {
		t.Fatalf("repeat: %s %s %v", p1, p2, err)
	}
	if _, err := s.Receive("R1", "", []Line{{GID: "g1", Qty: 6}}, "T-01"); !errors.Is(err, ErrConflict) {
		t.Fatalf("want conflict, got %v", err)
	}
	if _, err := s.Receive("R2", "", []Line{{GID: "nope", Qty: 1}}, "T-01"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("want not found, got %v", err)
	}
	if l, _ := s.StockOf("main", "g1"); l.OnHand != 5 {
		t.Fatalf("stock %+v", l)
	}
	// New warehouse appears in paging.
	if _, err := s.Receive("R3", "back", []Line{{GID: "g1", Qty: 2}}, ""); err != nil {
		t.Fatal(err)
	}
	if g, total, _ := s.WarehouseGoods("back", 0, 10); total != 1 || g[0].Stock != 2 {
		t.Fatalf("back: %+v", g)
	}
}

func TestOutboxOrderAckDeadLetter(t *testing.T) {
	s, _ := openTest(t)
	for i := 0; i < 5; i++ {
		if err := s.AppendEvent("test.event", map[string]int{"i": i}); err != nil {
			t.Fatal(err)
		}
	}
	evs, _ := s.Outbox().Pending(0, 3, 1<<20)
	if len(evs) != 3 || evs[0].Seq != 1 || evs[2].Seq != 3 {
		t.Fatalf("pending %+v", evs)
	}
	if err := s.Outbox().Ack(2); err != nil {
		t.Fatal(err)
	}
	if err := s.Outbox().DeadLetter(evs[2:3], "400 bad"); err != nil {
		t.Fatal(err)
	}
	st, _ := s.Outbox().QueueStats()
	if st.Depth != 2 || st.DeadLetters != 1 || st.LastSeq != 5 {
		t.Fatalf("stats %+v", st)
	}
	evs, _ = s.Outbox().Pending(0, 10, 1)
	if len(evs) != 1 || evs[0].Seq != 4 {
		t.Fatalf("byte cap: %+v", evs)
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	s, dir := openTest(t)
	s.db.Update(func(tx *bbolt.Tx) error {
		var v [4]byte
		binary.BigEndian.PutUint32(v[:], SchemaVersion+1)
		return tx.Bucket(bktMeta).Put(keySchema, v[:])
	})
	s.Close()
	_, err := Open(dir, Options{})
	if !errors.Is(err, ErrNewerSchema) {
		t.Fatalf("want newer schema error, got %v", err)
	}
	// The file must not have been rewritten.
	db, _ := bbolt.Open(dir+"/"+FileName, 0o600, nil)
	defer db.Close()
	db.View(func(tx *bbolt.Tx) error {
		if got := binary.BigEndian.Uint32(tx.Bucket(bktMeta).Get(keySchema)); got != SchemaVersion+1 {
			t.Fatalf("schema rewritten to %d", got)
		}
		return nil
	})
}

func TestGoodsChangedHook(t *testing.T) {
	s, _ := openTest(t)
	s.Import(rows(row(2, "g1", "1", "one", 100, 0, "ESL_1")), ImportOptions{})
	var got []goods.Goods
	s.OnGoodsChanged(func(gs []goods.Goods) { got = append(got, gs...) })
	if _, err := s.ApplyCatalogPage("c1", []goods.Goods{{GID: "g1", Barcode: "1", Name: "one", Price: 120, Unit: "pcs", MacIDs: []string{"ESL_1"}}}, nil); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Price != 120 {
		t.Fatalf("hook got %+v", got)
	}
	if c, _ := s.CatalogCursor(); c != "c1" {
		t.Fatalf("cursor %q", c)
	}
	// Stock crossing zero is a change too.
	got = nil
	s.Receive("R", "", []Line{{GID: "g1", Qty: 1}}, "")
	if len(got) != 1 || got[0].Stock != 1 {
		t.Fatalf("stock crossing: %+v", got)
	}
}

func BenchmarkSearchName(b *testing.B) {
	s, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	n := 100000
	s.Import(func(y func(ImportRow) error) error {
		for i := 0; i < n; i++ {
			y(row(i, fmt.Sprintf("g%07d", i), fmt.Sprint(i), fmt.Sprintf("商品 item %d 550ml", i), 1, 1))
		}
		return nil
	}, ImportOptions{})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s.SearchName("item 9999", 100)
	}
}

func TestRawPageMatchesStructs(t *testing.T) {
	s, _ := openTest(t)
	var rs []ImportRow
	for i := 0; i < 50; i++ {
		r := row(i+2, fmt.Sprintf("g%03d", i), fmt.Sprint(i), fmt.Sprintf("n%d", i), int64(i), int64(i%3))
		if i%4 == 0 {
			r.HasStock = false // no stock row in main
		}
		rs = append(rs, r)
	}
	s.Import(rows(rs...), ImportOptions{})
	s.WaitIndexed()
	for _, c := range []struct{ ost, lmt int }{{0, 10}, {7, 13}, {45, 10}, {60, 5}} {
		raw, total, err := s.RawPage("", c.ost, c.lmt)
		want, wtotal, _ := s.AllGoods(c.ost, c.lmt)
		if err != nil || total != wtotal || len(raw) != len(want) {
			t.Fatalf("%+v: %d/%d %d/%d %v", c, len(raw), len(want), total, wtotal, err)
		}
		for i := range raw {
			var g goods.Goods
			if err := json.Unmarshal(raw[i], &g); err != nil {
				t.Fatal(err)
			}
			if g.GID != want[i].GID || g.Stock != want[i].Stock || g.Price != want[i].Price {
				t.Fatalf("%+v #%d: %+v vs %+v", c, i, g, want[i])
			}
		}
	}
	b := AppendGoodsArray(nil, nil, 0)
	if string(b) != `{"goods":[],"total":0}` {
		t.Fatalf("%s", b)
	}
}
