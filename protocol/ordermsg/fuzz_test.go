package ordermsg

import (
	"encoding/json"
	"testing"

	"github.com/storebox/storebox/protocol/goods"
)

// FuzzPayRequest feeds getPayInfo bodies through the same decoding and
// validation the action uses. Whatever is accepted must be priced within the
// limits, and a stored order must match the request that made it (or a
// repeated getPayInfo would see a conflict).
func FuzzPayRequest(f *testing.F) {
	f.Add([]byte(`{"order_id":"A1","pay_method":"cash","lines":[{"gid":"G1","qty":2},{"gid":"K1","weight_g":333}]}`))
	f.Add([]byte(`{"order_id":"A1","pay_method":"qr","lines":[{"gid":"G1","qty":1.5}]}`))
	f.Add([]byte(`{"order_id":"A1","pay_method":"cash","lines":[{"gid":"K1","weight_g":1e5}]}`))
	known := map[string]goods.Goods{
		"G1": {GID: "G1", Name: "pcs", Price: 199, Unit: goods.UnitPieces},
		"K1": {GID: "K1", Name: "kg", Price: 1299, Unit: goods.UnitKg},
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var req PayRequest
		if json.Unmarshal(body, &req) != nil {
			return
		}
		if req.Validate() != nil {
			return
		}
		o := &Order{}
		for i, lr := range req.Lines {
			g, ok := known[lr.GID]
			if !ok {
				return
			}
			l, e := PriceLine(i, lr, g)
			if e != nil {
				return
			}
			switch g.Unit {
			case goods.UnitKg:
				if l.WeightG < 1 || l.WeightG > MaxWeightG || l.Qty != 0 {
					t.Fatalf("accepted weight %d qty %d", l.WeightG, l.Qty)
				}
			default:
				if l.Qty < 1 || l.Qty > MaxQty || l.WeightG != 0 {
					t.Fatalf("accepted qty %d weight %d", l.Qty, l.WeightG)
				}
			}
			if l.Amount < 0 || l.Amount != goods.LineAmount(g.Price, l.Qty, l.WeightG, g.Unit) {
				t.Fatalf("amount %d", l.Amount)
			}
			o.Lines = append(o.Lines, l)
		}
		// Through JSON, as it is stored.
		b, _ := json.Marshal(o)
		var back Order
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if !back.MadeFrom(req.Lines) {
			t.Fatalf("stored order does not match its own request %s", body)
		}
	})
}
