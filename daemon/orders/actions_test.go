package orders

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/storebox/storebox/daemon/payments"
	"github.com/storebox/storebox/protocol/ledger"
	"github.com/storebox/storebox/protocol/ordermsg"
)

func TestGetPayInfoValidationOverSocket(t *testing.T) {
	e := newEnv(t, Config{}, payments.Providers{})
	e.listen()
	tm := dialTerm(t, e.addr, "T-01")
	line := func(kv ...any) map[string]any {
		m := map[string]any{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	body := func(lines ...map[string]any) map[string]any {
		return map[string]any{"order_id": "A1", "pay_method": "cash", "lines": lines}
	}
	cases := []struct {
		name string
		body any
		code string
		msg  string
	}{
		{"no order_id", map[string]any{"pay_method": "cash", "lines": []any{line("gid", "G1", "qty", 1)}}, "bad_request", "order_id"},
		{"no pay_method", map[string]any{"order_id": "A1", "lines": []any{line("gid", "G1", "qty", 1)}}, "bad_request", "pay_method"},
		{"bad pay_method", map[string]any{"order_id": "A1", "pay_method": "bitcoin", "lines": []any{line("gid", "G1", "qty", 1)}}, "bad_request", "bitcoin"},
		{"qr without provider", map[string]any{"order_id": "A1", "pay_method": "qr", "lines": []any{line("gid", "G1", "qty", 1)}}, "bad_request", "provider"},
		{"credit without token", map[string]any{"order_id": "A1", "pay_method": "credit", "lines": []any{line("gid", "G1", "qty", 1)}}, "bad_request", "account_token"},
		{"credit without upstream", map[string]any{"order_id": "A1", "pay_method": "credit", "account_token": "x", "lines": []any{line("gid", "G1", "qty", 1)}}, "offline", "cloud"},
		{"no lines", body(), "bad_request", "lines"},
		{"unknown gid", body(line("gid", "NOPE", "qty", 1)), "not_found", "NOPE"},
		{"missing gid", body(line("qty", 1)), "bad_request", "gid"},
		{"qty 0", body(line("gid", "G1", "qty", 0)), "bad_request", "qty"},
		{"qty negative", body(line("gid", "G1", "qty", -2)), "bad_request", "qty"},
		{"qty 10000", body(line("gid", "G1", "qty", 10000)), "bad_request", "qty"},
		{"qty fraction", body(line("gid", "G1", "qty", 1.5)), "bad_request", "whole"},
		{"qty string", body(line("gid", "G1", "qty", "2")), "bad_request", "qty"},
		{"weight on pcs", body(line("gid", "G1", "weight_g", 100)), "bad_request", "qty"},
		{"qty on kg", body(line("gid", "K1", "qty", 1)), "bad_request", "weight_g"},
		{"both", body(line("gid", "K1", "qty", 1, "weight_g", 5)), "bad_request", "not both"},
		{"neither", body(line("gid", "K1")), "bad_request", "required"},
		{"weight 0", body(line("gid", "K1", "weight_g", 0)), "bad_request", "weight_g"},
		{"weight 100001", body(line("gid", "K1", "weight_g", 100001)), "bad_request", "weight_g"},
		{"weight fraction", body(line("gid", "K1", "weight_g", 10.5)), "bad_request", "weight_g"},
		{"out of stock names line", body(line("gid", "G1", "qty", 2), line("gid", "G2", "qty", 4)), "out_of_stock", "G2"},
		{"sold out", body(line("gid", "Z0", "qty", 1)), "out_of_stock", "Z0"},
		{"duplicate lines summed", body(line("gid", "G2", "qty", 2), line("gid", "G2", "qty", 2)), "out_of_stock", "G2 (asked 4"},
		{"body not object", "[1,2]", "bad_request", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := tm.call("getPayInfo", c.body)
			if r.code() != c.code || !strings.Contains(r.exc(), c.msg) {
				t.Fatalf("got code %q exception %q, want %q containing %q", r.code(), r.exc(), c.code, c.msg)
			}
		})
	}
	// Nothing was reserved or written by any refused request.
	for _, g := range []string{"G1", "G2", "K1"} {
		if l := e.stock(g); l.Reserved != 0 {
			t.Errorf("%s reserved %d after refused requests", g, l.Reserved)
		}
	}
	if n := len(e.events("")); n != 0 {
		t.Errorf("%d events after refused requests", n)
	}
	// The boundary values are accepted.
	r := tm.call("getPayInfo", body(line("gid", "K1", "weight_g", 1), line("gid", "G1", "qty", 1)))
	if r.exc() != "" {
		t.Fatalf("1 g and 1 pcs refused: %s", r.Raw)
	}
	importRows(t, e.st, bigRows())
	r = tm.call("getPayInfo", map[string]any{"order_id": "A2", "pay_method": "cash", "lines": []any{line("gid", "BIG", "qty", 9999), line("gid", "BIGK", "weight_g", 100000)}})
	if r.exc() != "" {
		t.Fatalf("9999 pcs and 100000 g refused: %s", r.Raw)
	}
}

func TestCashOrderOverSocket(t *testing.T) {
	e := newEnv(t, Config{}, payments.Providers{})
	e.listen()
	tm := dialTerm(t, e.addr, "T-01")
	other := dialTerm(t, e.addr, "T-02")

	req := map[string]any{"order_id": "R-1", "pay_method": "cash", "openId": "u1",
		"lines": []any{map[string]any{"gid": "G1", "qty": 3}, map[string]any{"gid": "K1", "weight_g": 333}}}
	r := tm.call("getPayInfo", req)
	if r.exc() != "" {
		t.Fatal(r.Raw)
	}
	oid := r.str("oid")
	// 3×200 + round_half_up(1290×333/1000 = 429.57) = 600 + 430
	if r.num("amount_total") != 1030 || r.str("url") != "" || r.str("expires_at") == "" || oid == "" {
		t.Fatalf("pay info %s", r.Raw)
	}
	if l := e.stock("G1"); l.OnHand != 10 || l.Reserved != 3 {
		t.Fatalf("G1 %+v after reserve", l)
	}
	if l := e.stock("K1"); l.Reserved != 333 {
		t.Fatalf("K1 %+v: kg goods reserve grams", l)
	}
	// Idempotent: same request, same oid, nothing reserved twice.
	if r2 := tm.call("getPayInfo", req); r2.str("oid") != oid || r2.exc() != "" {
		t.Fatalf("repeat gave %s", r2.Raw)
	}
	if l := e.stock("G1"); l.Reserved != 3 {
		t.Fatalf("repeat reserved again: %+v", l)
	}
	// Another terminal may reuse the order_id: keys are per equipId.
	if r3 := other.call("getPayInfo", req); r3.exc() != "" || r3.str("oid") == oid {
		t.Fatalf("other terminal: %s", r3.Raw)
	}
	// Same order_id, other lines → conflict.
	req2 := map[string]any{"order_id": "R-1", "pay_method": "cash", "lines": []any{map[string]any{"gid": "G1", "qty": 2}}}
	if r4 := tm.call("getPayInfo", req2); r4.code() != "conflict" {
		t.Fatalf("other lines: %s", r4.Raw)
	}

	g := tm.call("getOrder", map[string]any{"oid": oid})
	var got struct {
		Order ordermsg.View `json:"order"`
	}
	b, _ := json.Marshal(g.Body)
	json.Unmarshal(b, &got)
	if g.exc() != "" || got.Order.Status != "pending" || got.Order.AmountTotal != 1030 || len(got.Order.Lines) != 2 || got.Order.Method != "cash" {
		t.Fatalf("getOrder %s", g.Raw)
	}
	if r := tm.call("getOrder", map[string]any{"oid": "nope"}); r.code() != "not_found" {
		t.Fatalf("unknown oid: %s", r.Raw)
	}
	if r := other.call("makePayment", map[string]any{"oid": oid, "method": "cash", "amount": 1030}); r.code() != "forbidden" {
		t.Fatalf("other terminal paying: %s", r.Raw)
	}
	if r := tm.call("makePayment", map[string]any{"oid": oid, "method": "cash", "amount": 1029}); r.code() != "bad_request" {
		t.Fatalf("wrong amount: %s", r.Raw)
	}
	if r := tm.call("makePayment", map[string]any{"oid": oid, "method": "bitcoin", "amount": 1030}); r.code() != "bad_request" {
		t.Fatalf("wrong method: %s", r.Raw)
	}
	if r := tm.call("makePayment", map[string]any{"oid": oid, "method": "cash"}); r.code() != "bad_request" {
		t.Fatalf("no amount: %s", r.Raw)
	}
	if r := tm.call("makePayment", map[string]any{"oid": oid, "method": "cash", "amount": 1030}); r.exc() != "" {
		t.Fatalf("pay: %s", r.Raw)
	}
	p := tm.push("orderPaid")
	if p.str("oid") != oid || p.num("amount_total") != 1030 || p.str("method") != "cash" || p.str("paid_at") == "" {
		t.Fatalf("orderPaid push %s", p.Raw)
	}
	if l := e.stock("G1"); l.OnHand != 7 || l.Reserved != 3 { // 3 still held by T-02's order
		t.Fatalf("G1 after paid: %+v", l)
	}
	if l := e.stock("K1"); l.OnHand != 20000-333 {
		t.Fatalf("K1 after paid: %+v", l)
	}
	// A retried makePayment is fine; another method or a cancel is not.
	if r := tm.call("makePayment", map[string]any{"oid": oid, "method": "cash", "amount": 1030}); r.exc() != "" {
		t.Fatalf("retried pay: %s", r.Raw)
	}
	if r := tm.call("makePayment", map[string]any{"oid": oid, "method": "card_offline", "amount": 1030}); r.code() != "conflict" {
		t.Fatalf("second method: %s", r.Raw)
	}
	if r := tm.call("cancelOrder", map[string]any{"oid": oid}); r.code() != "conflict" {
		t.Fatalf("cancel paid: %s", r.Raw)
	}
	// A getPayInfo repeat after paid shows the final state, same oid.
	if r := tm.call("getPayInfo", req); r.str("oid") != oid || r.str("status") != "paid" {
		t.Fatalf("repeat after paid: %s", r.Raw)
	}
	if len(e.order(oid).Attempts) != 1 {
		t.Fatalf("attempts %+v", e.order(oid).Attempts)
	}
	// The ledger has the facts, with the fields UPSTREAM.md §3 asks for.
	paid := e.events(ledger.OrderPaid)
	if len(paid) != 1 {
		t.Fatalf("%d order.paid events", len(paid))
	}
	var d map[string]any
	json.Unmarshal(paid[0].Data, &d)
	for _, k := range []string{"oid", "order_id", "equipId", "status", "amount_total", "method", "lines"} {
		if _, ok := d[k]; !ok {
			t.Errorf("order.paid data lacks %s: %s", k, paid[0].Data)
		}
	}
	if d["status"] != "paid" || d["oid"] != oid || d["order_id"] != "R-1" || d["equipId"] != "T-01" {
		t.Errorf("order.paid data %s", paid[0].Data)
	}
	if n := len(e.events(ledger.OrderCreated)); n != 2 {
		t.Errorf("%d order.created events, want 2", n)
	}
	if n := len(e.events(ledger.PaymentCreated)); n != 2 {
		t.Errorf("%d payment.created events, want 2", n)
	}
	e.checkInvariants()
}

func TestCancelOrderOverSocket(t *testing.T) {
	e := newEnv(t, Config{}, payments.Providers{})
	e.listen()
	tm := dialTerm(t, e.addr, "T-01")
	other := dialTerm(t, e.addr, "T-02")
	r := tm.call("getPayInfo", map[string]any{"order_id": "C-1", "pay_method": "cash", "lines": []any{map[string]any{"gid": "G2", "qty": 3}}})
	oid := r.str("oid")
	if e.stock("G2").Reserved != 3 {
		t.Fatal("not reserved")
	}
	// Stock is held: nobody else can take it.
	if r := other.call("getPayInfo", map[string]any{"order_id": "X", "pay_method": "cash", "lines": []any{map[string]any{"gid": "G2", "qty": 1}}}); r.code() != "out_of_stock" {
		t.Fatalf("reserved stock sold again: %s", r.Raw)
	}
	if r := other.call("cancelOrder", map[string]any{"oid": oid}); r.code() != "forbidden" {
		t.Fatalf("other terminal cancels: %s", r.Raw)
	}
	if r := tm.call("cancelOrder", map[string]any{"oid": "nope"}); r.code() != "not_found" {
		t.Fatalf("unknown: %s", r.Raw)
	}
	if r := tm.call("cancelOrder", map[string]any{"oid": oid}); r.exc() != "" {
		t.Fatalf("cancel: %s", r.Raw)
	}
	if l := e.stock("G2"); l.Reserved != 0 || l.OnHand != 3 {
		t.Fatalf("after cancel %+v", l)
	}
	if r := tm.call("cancelOrder", map[string]any{"oid": oid}); r.exc() != "" {
		t.Fatalf("cancel twice: %s", r.Raw)
	}
	if e.order(oid).Status != ordermsg.StatusCancelled || len(e.events(ledger.OrderCancelled)) != 1 {
		t.Fatalf("order %+v", e.order(oid))
	}
	// Released stock sells again.
	if r := other.call("getPayInfo", map[string]any{"order_id": "X", "pay_method": "cash", "lines": []any{map[string]any{"gid": "G2", "qty": 3}}}); r.exc() != "" {
		t.Fatalf("released stock: %s", r.Raw)
	}
	e.checkInvariants()
}

func TestPushesAndTestModeOverSocket(t *testing.T) {
	tp := payments.NewTestProvider("http://192.0.2.1:8680")
	e := newEnv(t, Config{TTL: time.Second, PollInterval: 20 * time.Millisecond, PollMax: 100 * time.Millisecond}, payments.Providers{Payment: tp})
	e.listen()
	e.serve()
	tm := dialTerm(t, e.addr, "T-01")
	r := tm.call("getPayInfo", map[string]any{"order_id": "X-1", "pay_method": "qr", "lines": []any{map[string]any{"gid": "G1", "qty": 1}}})
	oid := r.str("oid")
	if r.exc() != "" || r.Body["test_mode"] != true || r.str("url") != "http://192.0.2.1:8680/pay/test/"+oid {
		t.Fatalf("pay info %s", r.Raw)
	}
	// Nobody pays: the order expires and the terminal hears of it.
	p := tm.push("orderExpired")
	if p.str("oid") != oid {
		t.Fatalf("push %s", p.Raw)
	}
	g := tm.call("getOrder", map[string]any{"oid": oid})
	if ord, _ := g.Body["order"].(map[string]any); ord["status"] != "expired" || ord["test_mode"] != true {
		t.Fatalf("getOrder %s", g.Raw)
	}
	// The customer pays at the last second; the provider reports it late:
	// the stock is still there, so the order is paid and the terminal told.
	if _, err := tp.Settle(oid+"-1", true); err != nil {
		t.Fatal(err)
	}
	p = tm.push("orderPaid")
	if p.str("oid") != oid || p.str("method") != "qr" {
		t.Fatalf("push %s", p.Raw)
	}
	e.checkInvariants()
}
