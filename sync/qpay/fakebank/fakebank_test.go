package fakebank

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	wire "github.com/storebox/storebox/protocol/qpay"
)

const (
	shopNo = "BA0026_001"
	a1, a2 = "4D9709D699CA40EE", "5A4FEF83140C4E9E"
	b1, b2 = "BC74301945134CB4", "961F67F8FCA44AB9"
)

func start(t *testing.T) (*Bank, *httptest.Server, wire.Keys) {
	t.Helper()
	b, err := New(shopNo, a1, a2, b1, b2)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(b)
	t.Cleanup(func() { b.Close(); srv.Close() })
	keys, err := wire.NewKeys(shopNo, a1, a2, b1, b2)
	if err != nil {
		t.Fatal(err)
	}
	return b, srv, keys
}

func post(t *testing.T, url string, body any) (int, []byte) {
	t.Helper()
	data, _ := json.Marshal(body)
	resp, err := http.Post(url, "application/json", bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	return resp.StatusCode, buf.Bytes()
}

func nonce(t *testing.T, srv *httptest.Server) string {
	t.Helper()
	code, body := post(t, srv.URL+"/api/Nonce", wire.NonceRequest{ShopNo: shopNo})
	var n wire.NonceReply
	if code != 200 || json.Unmarshal(body, &n) != nil || n.Nonce == "" {
		t.Fatalf("nonce: %d %s", code, body)
	}
	return n.Nonce
}

func TestRejectsReusedNonceAndBadSign(t *testing.T) {
	b, srv, keys := start(t)
	q := wire.OrderQueryRequest{ShopNo: shopNo, OrderNo: "X1", PayFlag: "A"}

	env, err := keys.Seal(wire.ServiceOrderQuery, nonce(t, srv), q)
	if err != nil {
		t.Fatal(err)
	}
	code, body := post(t, srv.URL+"/api/Order", env)
	if code != 200 {
		t.Fatalf("first use: %d %s", code, body)
	}
	var reply wire.Envelope
	if err := json.Unmarshal(body, &reply); err != nil {
		t.Fatal(err)
	}
	var qr wire.OrderQueryReply
	if err := keys.OpenInto(reply, &qr); err != nil || qr.Status != "S" || len(qr.OrderList) != 0 {
		t.Fatalf("reply: %+v, %v", qr, err)
	}
	if reply.Nonce == env.Nonce {
		t.Fatal("reply reuses the request nonce")
	}

	// The same envelope again: nonce already used.
	if code, body := post(t, srv.URL+"/api/Order", env); code != 400 || !strings.Contains(string(body), "nonce") {
		t.Fatalf("replay: %d %s", code, body)
	}
	// A nonce the bank never issued (the reply's own).
	env2, _ := keys.Seal(wire.ServiceOrderQuery, reply.Nonce, q)
	if code, _ := post(t, srv.URL+"/api/Order", env2); code != 400 {
		t.Fatalf("unissued nonce: %d", code)
	}
	// A tampered Sign.
	env3, _ := keys.Seal(wire.ServiceOrderQuery, nonce(t, srv), q)
	env3.Sign = strings.Repeat("A", 64)
	if code, body := post(t, srv.URL+"/api/Order", env3); code != 400 || !strings.Contains(string(body), "sign") {
		t.Fatalf("bad sign: %d %s", code, body)
	}
	// Sealed with other keys.
	other, _ := wire.NewKeys(shopNo, "0000000000000000", a2, b1, b2)
	env4, _ := other.Seal(wire.ServiceOrderQuery, nonce(t, srv), q)
	if code, _ := post(t, srv.URL+"/api/Order", env4); code != 400 {
		t.Fatalf("other keys: %d", code)
	}
	// Another shop, an unknown service, garbage.
	env5, _ := keys.Seal(wire.ServiceOrderQuery, nonce(t, srv), q)
	env5.ShopNo = "XX0000_001"
	if code, _ := post(t, srv.URL+"/api/Order", env5); code != 400 {
		t.Fatalf("other shop: %d", code)
	}
	env6, _ := keys.Seal("OrderTeleport", nonce(t, srv), q)
	if code, _ := post(t, srv.URL+"/api/Order", env6); code != 400 {
		t.Fatalf("unknown service: %d", code)
	}
	if code, _ := post(t, srv.URL+"/api/Order", "not an envelope"); code != 400 {
		t.Fatalf("garbage: %d", code)
	}
	if st := b.Stats(); st.Rejected != 7 || st.Calls[wire.ServiceOrderQuery] != 1 {
		t.Fatalf("stats: %+v", st)
	}
}

func TestSettleAdminAndNotify(t *testing.T) {
	b, srv, keys := start(t)
	var notified atomic.Value
	cloud := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var n wire.Notify
		_ = json.NewDecoder(r.Body).Decode(&n)
		notified.Store(n)
		_, _ = w.Write([]byte(`{"Status":"S"}`))
	}))
	defer cloud.Close()

	req := wire.OrderCreateRequest{ShopNo: shopNo, OrderNo: "X2", Amount: 100, CurrencyID: "TWD", PayType: "C",
		PrdtName: "x", BackendURL: cloud.URL + "/notify", CardParam: &wire.CardParam{AutoBilling: "Y"}}
	env, _ := keys.Seal(wire.ServiceOrderCreate, nonce(t, srv), req)
	code, body := post(t, srv.URL+"/Order", env)
	var renv wire.Envelope
	_ = json.Unmarshal(body, &renv)
	var cr wire.OrderCreateReply
	if err := keys.OpenInto(renv, &cr); code != 200 || err != nil || cr.Status != "S" || cr.CardParam == nil {
		t.Fatalf("create: %d %s %+v %v", code, body, cr, err)
	}

	if _, err := b.MarkPaid("nope"); err == nil {
		t.Fatal("MarkPaid of unknown order")
	}
	code, body = post(t, srv.URL+"/_fake/pay?order=X2&notify=1", nil)
	var tok struct{ PayToken string }
	if code != 200 || json.Unmarshal(body, &tok) != nil || tok.PayToken == "" {
		t.Fatalf("admin pay: %d %s", code, body)
	}
	if n, _ := notified.Load().(wire.Notify); n.PayToken != tok.PayToken || n.ShopNo != shopNo {
		t.Fatalf("notify = %+v, want token %s", n, tok.PayToken)
	}
	// Paid is final in the fake too.
	if _, err := b.MarkFailed("X2"); err == nil {
		t.Fatal("paid order marked failed")
	}
	// Paying twice returns the same token.
	if again, err := b.MarkPaid("X2"); err != nil || again != tok.PayToken {
		t.Fatalf("MarkPaid again: %s, %v", again, err)
	}
	if code, _ := post(t, srv.URL+"/_fake/fault?f=bogus", nil); code != 400 {
		t.Fatal("unknown fault accepted")
	}
	if code, _ := post(t, srv.URL+"/_fake/fault?f=500", nil); code != 200 {
		t.Fatal("fault 500 refused")
	}
	if code, _ := post(t, srv.URL+"/Nonce", wire.NonceRequest{ShopNo: shopNo}); code != 500 {
		t.Fatalf("fault 500: %d", code)
	}
}

func TestHangReleasedByClose(t *testing.T) {
	b, srv, _ := start(t)
	b.SetFault(FaultHang)
	done := make(chan int, 1)
	go func() {
		resp, err := http.Post(srv.URL+"/Nonce", "application/json", strings.NewReader(`{"ShopNo":"`+shopNo+`"}`))
		if err != nil {
			done <- -1
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	select {
	case <-done:
		t.Fatal("hung request answered before Close")
	case <-time.After(100 * time.Millisecond):
	}
	b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatal("Close did not release the hung request")
	}
}
