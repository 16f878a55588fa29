package store

import "testing"

// A catalog file's stock sets on-hand only where the store has none; stock
// received since is kept (and counted as kept) unless SetStock.
func TestImportKeepsTheStoresOwnStock(t *testing.T) {
	s, _ := openTest(t)
	if res, err := s.Import(rows(row(2, "g1", "1", "one", 100, 96), row(3, "g2", "2", "two", 100, 5)), ImportOptions{}); err != nil || res.StockSet != 2 {
		t.Fatalf("first import: %+v %v", res, err)
	}
	if _, err := s.Receive("R-1", "main", []Line{{GID: "g1", Qty: 12}}, "T-1"); err != nil {
		t.Fatal(err)
	}
	// The same file again, plus a warehouse g2 had no stock row in.
	again := row(3, "g2", "2", "two", 100, 5)
	again.Stock["backroom"] = 40
	res, err := s.Import(rows(row(2, "g1", "1", "one", 100, 96), again, row(4, "g3", "3", "three", 100, 7)), ImportOptions{})
	if err != nil || res.Created != 1 || res.Unchanged != 2 || res.StockSet != 2 || res.StockKept != 1 {
		t.Fatalf("re-import: %+v %v", res, err)
	}
	for _, c := range []struct {
		wh, gid string
		want    int64
	}{{"main", "g1", 108}, {"backroom", "g2", 40}, {"main", "g3", 7}} {
		if l, _ := s.StockOf(c.wh, c.gid); l.OnHand != c.want {
			t.Errorf("%s/%s on hand %d, want %d", c.wh, c.gid, l.OnHand, c.want)
		}
	}
	res, err = s.Import(rows(row(2, "g1", "1", "one", 100, 96)), ImportOptions{SetStock: true})
	if l, _ := s.StockOf("main", "g1"); err != nil || res.StockSet != 1 || l.OnHand != 96 {
		t.Fatalf("SetStock: %+v %v, on hand %d", res, err, l.OnHand)
	}
}
