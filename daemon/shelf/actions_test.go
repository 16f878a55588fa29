package shelf_test

import (
	"testing"

	"github.com/storebox/storebox/daemon/devices"
	"github.com/storebox/storebox/daemon/devices/devicetest"
	"github.com/storebox/storebox/daemon/store/storetest"
	"github.com/storebox/storebox/protocol/frame"
)

func TestErrorCodes(t *testing.T) {
	h := devicetest.New(t, devices.Config{})
	cl := h.Dial(t, frame.ModeLine, "T-ERR")
	if r := cl.Call("getGoods", map[string]any{"gid": "G1"}); r.Code() != "not_logged_in" {
		t.Fatalf("before login: %s", r.Raw)
	}
	cl.MustLogin(nil)
	cases := []struct {
		action string
		body   any
		code   string
	}{
		{"nope", nil, "unknown_action"},
		{"getGoods", map[string]any{}, "bad_request"},
		{"getGoods", map[string]any{"code": "1", "gid": "2"}, "bad_request"},
		{"getGoods", map[string]any{"code": 5}, "bad_request"},
		{"getGoods", map[string]any{"code": "0000"}, "not_found"},
		{"getAllGoods", map[string]any{"lmt": 1001}, "bad_request"},
		{"getAllGoods", map[string]any{"ost": -1}, "bad_request"},
		{"getWarehouseGoods", map[string]any{}, "bad_request"},
		{"stockGoods", map[string]any{"whid": "main", "lines": []any{map[string]any{"gid": "G1", "qty": 1}}}, "bad_request"},
		{"stockGoods", map[string]any{"whid": "main", "ref": "R1", "lines": []any{map[string]any{"gid": "NOPE", "qty": 1}}}, "not_found"},
	}
	for _, c := range cases {
		r := cl.Call(c.action, c.body)
		if r.Code() != c.code || r.Exception() == "" {
			t.Errorf("%s %v: want %s, got %s", c.action, c.body, c.code, r.Raw)
		}
	}
	// stockGoods is idempotent by ref; a reused ref with other lines conflicts.
	body := map[string]any{"whid": "main", "ref": "R-9", "lines": []any{map[string]any{"gid": "G2", "qty": 5}}}
	r1 := cl.Call("stockGoods", body)
	r2 := cl.Call("stockGoods", body)
	if r1.Exception() != "" || r1.Body["picking_id"] == nil || r1.Body["picking_id"] != r2.Body["picking_id"] {
		t.Fatalf("idempotent receipt: %s / %s", r1.Raw, r2.Raw)
	}
	body["lines"] = []any{map[string]any{"gid": "G2", "qty": 6}}
	if r := cl.Call("stockGoods", body); r.Code() != "conflict" {
		t.Fatalf("conflict: %s", r.Raw)
	}
	if l := storetest.StockOf(t, h.St, "main", "G2"); l.OnHand != 8 {
		t.Fatalf("stock after one receipt of 5 over 3: %+v", l)
	}
	// Labels may not receive stock.
	lbl := h.Dial(t, frame.ModeLine, "ESL_0001")
	lbl.MustLogin(nil)
	if r := lbl.Call("stockGoods", map[string]any{"whid": "main", "ref": "R-L", "lines": []any{map[string]any{"gid": "G2", "qty": 1}}}); r.Code() != "forbidden" {
		t.Fatalf("label stock: %s", r.Raw)
	}
}
