package orders

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/storebox/storebox/daemon/payments"
	"github.com/storebox/storebox/daemon/store"
	"github.com/storebox/storebox/protocol/ordermsg"
	"github.com/storebox/storebox/protocol/receipt"
)

func TestReceiptOverSocket(t *testing.T) {
	var hooked []string
	cfg := Config{StoreID: "s-9", Receipt: ReceiptConfig{StoreName: "超市 Corner", Layout: receipt.Layout{Width: 42, Decimals: 2, Location: time.UTC, Footer: []string{"Thanks"}}},
		OnPaid: func(t *store.Tx, o *ordermsg.Order) error { hooked = append(hooked, o.OID); return nil }}
	e := newEnv(t, cfg, payments.Providers{})
	e.listen()
	tm := dialTerm(t, e.addr, "T-01")
	other := dialTerm(t, e.addr, "T-02")
	scale := dialAs(t, e.addr, "DZC_1", "scale")

	r := tm.call("getPayInfo", map[string]any{"order_id": "R-1", "pay_method": "cash",
		"lines": []any{map[string]any{"gid": "G1", "qty": 3}, map[string]any{"gid": "K1", "weight_g": 333}}})
	oid := r.str("oid")
	if r := tm.call("getReceipt", map[string]any{"oid": oid}); r.code() != "not_found" {
		t.Fatalf("receipt of a pending order: %s", r.Raw)
	}
	if r := tm.call("makePayment", map[string]any{"oid": oid, "method": "cash", "amount": 1030}); r.exc() != "" {
		t.Fatalf("pay: %s", r.Raw)
	}
	p := tm.push("orderPaid")
	var push struct {
		ordermsg.PaidPush
		receipt.WithPrintList
	}
	if err := json.Unmarshal([]byte(p.Raw), &struct{ Body any }{&push}); err != nil {
		t.Fatal(err)
	}
	rc := push.Receipt
	if push.OID != oid || rc.OID != oid || rc.Store != "s-9" || rc.StoreName != "超市 Corner" || rc.OrderID != "R-1" || rc.Method != "cash" ||
		rc.AmountTotal != 1030 || len(rc.Lines) != 2 || rc.Lines[0].Qty != 3 || rc.Lines[0].Name != "Water 550ml" || rc.Lines[1].WeightG != 333 ||
		rc.Lines[1].UnitPrice != 1290 || rc.Lines[1].Amount != 430 || rc.PaidAt.IsZero() {
		t.Fatalf("orderPaid receipt %s", p.Raw)
	}
	list := strings.Join(push.PrintList, "\n")
	for _, want := range []string{"超市 Corner", oid, "TOTAL", "10.30", "Cash", "0.333 kg x 12.90/kg", "Thanks"} {
		if !strings.Contains(list, want) {
			t.Errorf("printList lacks %q:\n%s", want, list)
		}
	}
	if len(push.PrintList[len(push.PrintList)-3]) != 42 {
		t.Errorf("printList not laid out at 42 columns: %q", push.PrintList)
	}
	if len(hooked) != 1 || hooked[0] != oid {
		t.Errorf("paid hook ran for %v, want once for %s", hooked, oid)
	}

	for _, c := range []struct {
		who  *term
		want string
	}{{tm, ""}, {other, ""}, {scale, "not_found"}} {
		g := c.who.call("getReceipt", map[string]any{"oid": oid})
		if g.code() != c.want && !(c.want == "" && g.exc() == "") {
			t.Errorf("getReceipt by %s: %s", c.who.id, g.Raw)
			continue
		}
		if c.want == "" {
			var got receipt.WithPrintList
			b, _ := json.Marshal(g.Body)
			json.Unmarshal(b, &got)
			if strings.Join(got.PrintList, "\n") != list || got.Receipt.OID != oid {
				t.Errorf("getReceipt by %s differs from the push: %s", c.who.id, g.Raw)
			}
		}
	}
	if r := tm.call("getReceipt", map[string]any{"oid": "nope"}); r.code() != "not_found" {
		t.Fatalf("unknown oid: %s", r.Raw)
	}
	if r := tm.call("getReceipt", map[string]any{}); r.code() != "bad_request" {
		t.Fatalf("no oid: %s", r.Raw)
	}
}

// A paid hook that fails takes the payment with it: the print job and the
// payment commit together or not at all.
func TestPaidHookFailureLeavesOrderPending(t *testing.T) {
	fail := true
	cfg := Config{OnPaid: func(t *store.Tx, o *ordermsg.Order) error {
		if fail {
			return errors.New("printer queue full")
		}
		return nil
	}}
	e := newEnv(t, cfg, payments.Providers{})
	info, err := e.svc.GetPayInfo(t.Context(), "T-01", ordermsg.PayRequest{OrderID: "H-1", PayMethod: "cash",
		Lines: []ordermsg.LineRequest{{GID: "G1", Qty: new(1.0)}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.MakePayment("T-01", info.OID, "cash", info.AmountTotal); err == nil || !strings.Contains(err.Error(), "printer queue full") {
		t.Fatalf("makePayment with a failing hook: %v", err)
	}
	if o := e.order(info.OID); o.Status != ordermsg.StatusPending {
		t.Fatalf("order %s after a failed hook", o.Status)
	}
	if l := e.stock("G1"); l.OnHand != 10 || l.Reserved != 1 {
		t.Fatalf("stock moved without the hook: %+v", l)
	}
	fail = false
	if err := e.svc.MakePayment("T-01", info.OID, "cash", info.AmountTotal); err != nil {
		t.Fatal(err)
	}
	if o := e.order(info.OID); o.Status != ordermsg.StatusPaid {
		t.Fatalf("order %s", o.Status)
	}
}
