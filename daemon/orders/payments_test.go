package orders

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/storebox/storebox/daemon/payments"
	"github.com/storebox/storebox/protocol/devmsg"
	"github.com/storebox/storebox/protocol/ledger"
	"github.com/storebox/storebox/protocol/ordermsg"
	"github.com/storebox/storebox/sync/cloudref"
	"github.com/storebox/storebox/sync/qpay"
	"github.com/storebox/storebox/sync/qpay/fakebank"
	"github.com/storebox/storebox/sync/upstream"
	"github.com/storebox/storebox/test/testenv"
)

// The shop keys of the bank's published sample.
const (
	shopNo = "BA0026_001"
	a1, a2 = "4D9709D699CA40EE", "5A4FEF83140C4E9E"
	b1, b2 = "BC74301945134CB4", "961F67F8FCA44AB9"
	secret = "upstream-secret"
)

func newBank(t *testing.T) (*fakebank.Bank, *payments.QPay) {
	t.Helper()
	bank, err := fakebank.New(shopNo, a1, a2, b1, b2)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(bank)
	t.Cleanup(func() { bank.Close(); srv.Close() })
	c, err := qpay.New(qpay.Config{BaseURL: srv.URL + "/api", ShopNo: shopNo, A1: a1, A2: a2, B1: b1, B2: b2,
		BackendURL: "https://cloud.example/qpay/notify", HTTPClient: &http.Client{Timeout: 5 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	return bank, payments.NewQPay(c)
}

func qrReq(id string, l ...ordermsg.LineRequest) ordermsg.PayRequest {
	return ordermsg.PayRequest{OrderID: id, PayMethod: ordermsg.MethodQR, Lines: l}
}

func TestQPayAgainstFakeBank(t *testing.T) {
	bank, q := newBank(t)
	e := newEnv(t, Config{}, payments.Providers{Payment: q})
	ctx := context.Background()

	p, err := e.svc.GetPayInfo(ctx, "T-01", qrReq("B-1", pcs("G1", 2)))
	if err != nil {
		t.Fatal(err)
	}
	ref := p.OID + "-1"
	bo, ok := bank.Order(ref)
	if !ok || bo.Amount != 400 || bo.PayType != "C" || p.URL == "" || p.URL != bo.PayURL || p.TestMode {
		t.Fatalf("bank order %+v pay info %+v", bo, p)
	}
	atm, err := e.svc.GetPayInfo(ctx, "T-01", ordermsg.PayRequest{OrderID: "B-2", PayMethod: ordermsg.MethodATM, Lines: []ordermsg.LineRequest{pcs("G2", 1)}})
	if err != nil || atm.AtmPayNo == "" {
		t.Fatalf("atm %+v %v", atm, err)
	}
	if bo, _ := bank.Order(atm.OID + "-1"); bo.PayType != "A" {
		t.Fatalf("atm pay type %q", bo.PayType)
	}
	// Unpaid: polling changes nothing.
	if err := e.svc.pollNow(ctx, p.OID, 1); err != nil {
		t.Fatal(err)
	}
	if e.order(p.OID).Status != ordermsg.StatusPending {
		t.Fatal("unpaid order changed")
	}
	if _, err := bank.MarkPaid(ref); err != nil {
		t.Fatal(err)
	}
	// Tampered replies never mark it paid.
	for _, fault := range []fakebank.Fault{fakebank.FaultBadSign, fakebank.FaultAmount, fakebank.FaultOrderMismatch, fakebank.FaultServerError} {
		bank.SetFault(fault)
		_ = e.svc.pollNow(ctx, p.OID, 1)
		if o := e.order(p.OID); o.Status != ordermsg.StatusPending {
			t.Fatalf("fault %d marked the order %s", fault, o.Status)
		}
	}
	if o := e.order(p.OID); !o.NeedsReview() {
		t.Fatal("a signed paid reply with another amount is not flagged")
	}
	bank.SetFault(fakebank.FaultNone)
	if err := e.svc.pollNow(ctx, p.OID, 1); err != nil {
		t.Fatal(err)
	}
	if o := e.order(p.OID); o.Status != ordermsg.StatusPaid {
		t.Fatalf("genuine reply: %s", o.Status)
	}
	// Outer S, inner F: the payment failed, the order stays pending.
	p2, _ := e.svc.GetPayInfo(ctx, "T-01", qrReq("B-3", pcs("G1", 1)))
	bank.MarkPaid(p2.OID + "-1")
	bank.SetFault(fakebank.FaultInnerFail)
	e.svc.pollNow(ctx, p2.OID, 1)
	bank.SetFault(fakebank.FaultNone)
	if o := e.order(p2.OID); o.Status != ordermsg.StatusPending || o.Attempts[0].State != ordermsg.AttemptFailed {
		t.Fatalf("inner F: %+v", o)
	}
	e.checkInvariants()
}

func TestQPayLostCreateReplyNeverChargesTwice(t *testing.T) {
	bank, q := newBank(t)
	e := newEnv(t, Config{}, payments.Providers{Payment: q})
	ctx := context.Background()
	// The bank creates the order but its reply fails verification: the
	// outcome is unknown to us.
	bank.SetFault(fakebank.FaultBadSign)
	_, err := e.svc.GetPayInfo(ctx, "T-01", qrReq("LR-1", pcs("G1", 1)))
	if codeOf(err) != devmsg.CodeOffline {
		t.Fatalf("unverifiable create: %v", err)
	}
	bank.SetFault(fakebank.FaultNone)
	o := e.svc.List(ordermsg.StatusPending, 1)[0]
	if _, ok := bank.Order(o.OID + "-1"); !ok {
		t.Fatal("bank lacks the order")
	}
	// The terminal retries: the bank is asked first, the old number is not
	// re-created, a new attempt gets a fresh link.
	p, err := e.svc.GetPayInfo(ctx, "T-01", qrReq("LR-1", pcs("G1", 1)))
	if err != nil || p.OID != o.OID || p.URL == "" {
		t.Fatalf("retry %+v %v", p, err)
	}
	if n := bank.Stats().Calls["OrderCreate"]; n != 2 {
		t.Fatalf("OrderCreate accepted %d times, want 2 (attempt 1 and 2)", n)
	}
	// The customer pays the first link after all: the order is paid once.
	bank.MarkPaid(o.OID + "-1")
	e.svc.pollNow(ctx, o.OID, 1)
	bank.MarkPaid(o.OID + "-2")
	e.svc.pollNow(ctx, o.OID, 2)
	got := e.order(o.OID)
	if got.Status != ordermsg.StatusPaid || got.PaidBy != 1 || !got.NeedsReview() {
		t.Fatalf("double payment: %+v", got)
	}
	if n := len(e.events(ledger.OrderPaid)); n != 1 {
		t.Fatalf("%d order.paid", n)
	}
	e.checkInvariants()
}

func postNotify(t *testing.T, url, sig string, body []byte) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if sig != "" {
		req.Header.Set(ledger.HeaderSignature, sig)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestNotifyHandler(t *testing.T) {
	bank, q := newBank(t)
	e := newEnv(t, Config{NotifySecret: secret}, payments.Providers{Payment: q})
	srv := httptest.NewServer(e.svc.NotifyHandler())
	defer srv.Close()
	ctx := context.Background()
	p, err := e.svc.GetPayInfo(ctx, "T-01", qrReq("N-1", pcs("G1", 1)))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := bank.MarkPaid(p.OID + "-1")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]string{"ShopNo": shopNo, "PayToken": tok})
	good := ledger.Sign(secret, time.Now(), body)
	for name, sig := range map[string]string{
		"unsigned":   "",
		"bad secret": ledger.Sign("wrong", time.Now(), body),
		"stale":      ledger.Sign(secret, time.Now().Add(-time.Hour), body),
		"other body": ledger.Sign(secret, time.Now(), []byte(`{"PayToken":"x"}`)),
	} {
		if code, _ := postNotify(t, srv.URL, sig, body); code != http.StatusUnauthorized {
			t.Fatalf("%s: HTTP %d", name, code)
		}
	}
	if e.order(p.OID).Status != ordermsg.StatusPending {
		t.Fatal("unsigned notify changed the order")
	}
	// A tampered provider answer to the query does not pay and does not
	// use the token up.
	bank.SetFault(fakebank.FaultAmount)
	if code, msg := postNotify(t, srv.URL, good, body); code != http.StatusOK || e.order(p.OID).Status != ordermsg.StatusPending {
		t.Fatalf("tampered query: HTTP %d %s, order %s", code, msg, e.order(p.OID).Status)
	}
	bank.SetFault(fakebank.FaultBadSign)
	if code, _ := postNotify(t, srv.URL, good, body); code != http.StatusServiceUnavailable || e.order(p.OID).Status != ordermsg.StatusPending {
		t.Fatalf("bad sign query: HTTP %d", code)
	}
	bank.SetFault(fakebank.FaultNone)
	if code, msg := postNotify(t, srv.URL, good, body); code != http.StatusOK || !strings.Contains(msg, `"S"`) {
		t.Fatalf("good notify: HTTP %d %s", code, msg)
	}
	if o := e.order(p.OID); o.Status != ordermsg.StatusPaid {
		t.Fatalf("after notify %s", o.Status)
	}
	calls := bank.Stats().Calls["OrderPayQuery"]
	if code, msg := postNotify(t, srv.URL, good, body); code != http.StatusOK || !strings.Contains(msg, "already") {
		t.Fatalf("repeat: %d %s", code, msg)
	}
	if bank.Stats().Calls["OrderPayQuery"] != calls {
		t.Fatal("a processed token was queried again")
	}
	// A notify always queries: a token the bank does not know changes nothing.
	fake, _ := json.Marshal(map[string]string{"ShopNo": shopNo, "PayToken": "forged-token"})
	if code, _ := postNotify(t, srv.URL, ledger.Sign(secret, time.Now(), fake), fake); code == http.StatusOK {
		t.Fatalf("forged token accepted")
	}
	if n := len(e.events(ledger.OrderPaid)); n != 1 {
		t.Fatalf("%d order.paid", n)
	}
	// A notify for an expired order pays it late when the stock is there.
	p3, _ := e.svc.GetPayInfo(ctx, "T-01", qrReq("N-3", pcs("G2", 1)))
	e.svc.expireDue(time.Now().Add(time.Hour))
	tok3, _ := bank.MarkPaid(p3.OID + "-1")
	b3, _ := json.Marshal(map[string]string{"ShopNo": shopNo, "PayToken": tok3})
	if code, _ := postNotify(t, srv.URL, ledger.Sign(secret, time.Now(), b3), b3); code != http.StatusOK {
		t.Fatalf("late notify HTTP %d", code)
	}
	if o := e.order(p3.OID); o.Status != ordermsg.StatusPaid {
		t.Fatalf("late notify: %s", o.Status)
	}
	e.checkInvariants()
}

func TestTestProviderPayPage(t *testing.T) {
	var payPage http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { payPage.ServeHTTP(w, r) }))
	defer srv.Close()
	tp := payments.NewTestProvider(srv.URL)
	e := newEnv(t, Config{}, payments.Providers{Payment: tp})
	payPage = e.svc.PayPageHandler()
	if !e.svc.TestMode() {
		t.Fatal("TestMode false")
	}
	ctx := context.Background()
	p, err := e.svc.GetPayInfo(ctx, "T-01", qrReq("TP-1", pcs("G1", 1)))
	if err != nil || !p.TestMode || p.URL != srv.URL+"/pay/test/"+p.OID {
		t.Fatalf("%+v %v", p, err)
	}
	resp, err := http.Get(p.URL)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(page), "TEST MODE") || !strings.Contains(string(page), `value="paid"`) {
		t.Fatalf("page: %s", page)
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err = noRedirect.PostForm(p.URL, url.Values{"ref": {"other"}, "result": {"paid"}})
	if err != nil || resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("foreign ref: %v %v", resp.StatusCode, err)
	}
	resp, err = noRedirect.PostForm(p.URL, url.Values{"ref": {p.OID + "-1"}, "result": {"paid"}})
	if err != nil || resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("paid button: %v %v", resp.StatusCode, err)
	}
	if o := e.order(p.OID); o.Status != ordermsg.StatusPaid || !o.TestMode {
		t.Fatalf("after paid button: %+v", o)
	}
	p2, _ := e.svc.GetPayInfo(ctx, "T-01", qrReq("TP-2", pcs("G1", 1)))
	noRedirect.PostForm(p2.URL, url.Values{"ref": {p2.OID + "-1"}, "result": {"failed"}})
	if o := e.order(p2.OID); o.Status != ordermsg.StatusPending || o.Attempts[0].State != ordermsg.AttemptFailed {
		t.Fatalf("after failed button: %+v", o)
	}
	// A failed payment can be re-issued on the same order.
	p3, err := e.svc.GetPayInfo(ctx, "T-01", qrReq("TP-2", pcs("G1", 1)))
	if err != nil || p3.OID != p2.OID || len(e.order(p2.OID).Attempts) != 2 {
		t.Fatalf("retry after failure: %+v %v", p3, err)
	}
	if resp, _ := http.Get(srv.URL + "/pay/test/nope"); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown order HTTP %d", resp.StatusCode)
	}
}

func newCloud(t *testing.T, credits map[string]int64) (*cloudref.Server, string) {
	t.Helper()
	cloud, err := cloudref.New(cloudref.Options{Secret: secret, Credits: credits})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(cloud.Handler())
	t.Cleanup(func() { srv.Close(); cloud.Close() })
	return cloud, srv.URL
}

// lossy is a payments.Credit whose authorize reply is lost after the cloud acted.
type lossy struct {
	payments.Credit
	lose bool
}

func (l *lossy) Authorize(ctx context.Context, acct string, amount int64, oid string, ttl time.Duration) (string, error) {
	tok, err := l.Credit.Authorize(ctx, acct, amount, oid, ttl)
	if err == nil && l.lose {
		return "", &upstream.RetryableError{Op: "credit authorize", Err: errors.New("connection reset")}
	}
	return tok, err
}

func TestCreditAgainstReferenceCloud(t *testing.T) {
	cloud, url := newCloud(t, map[string]int64{"acct-1": 1000})
	cl := upstream.New(url, "store-1", secret, 5*time.Second)
	credit := &lossy{Credit: cl}
	e := newEnv(t, Config{PollInterval: 20 * time.Millisecond, PollMax: 200 * time.Millisecond}, payments.Providers{Credit: credit})
	pusher := &recPusher{}
	e.push.set(pusher)
	e.serve()
	ctx := context.Background()
	cr := func(id string, l ...ordermsg.LineRequest) ordermsg.PayRequest {
		return ordermsg.PayRequest{OrderID: id, PayMethod: ordermsg.MethodCredit, AccountToken: "acct-1", Lines: l}
	}
	// Granted: paid at once, captured in the background.
	p, err := e.svc.GetPayInfo(ctx, "T-01", cr("CR-1", pcs("G1", 2)))
	if err != nil || p.Status != ordermsg.StatusPaid {
		t.Fatalf("%+v %v", p, err)
	}
	if !pusher.has("T-01 orderPaid") {
		t.Fatal("no orderPaid push")
	}
	testenv.Eventually(t, "capture", func() bool { return cloud.Stats().Credits["acct-1"] == 600 })
	testenv.Eventually(t, "settled", func() bool { o, _, _ := e.svc.Get(p.OID); return o.Attempts[0].Settled })
	// Not enough credit: a clear refusal; the order stays and can be paid
	// another way.
	_, err = e.svc.GetPayInfo(ctx, "T-01", cr("CR-2", pcs("G2", 2)))
	if codeOf(err) != devmsg.CodeForbidden || !strings.Contains(err.Error(), "insufficient_credit") {
		t.Fatalf("insufficient: %v", err)
	}
	o := e.svc.List(ordermsg.StatusPending, 1)[0]
	if o.OrderID != "CR-2" || !o.Attempts[0].Released {
		t.Fatalf("order after refusal %+v", o)
	}
	p2, err := e.svc.GetPayInfo(ctx, "T-01", cashReq("CR-2", pcs("G2", 2)))
	if err != nil || p2.OID != o.OID {
		t.Fatalf("cash after refusal %+v %v", p2, err)
	}
	// Lost reply: offline to the terminal; when the order closes, the hold
	// the cloud did make is found and released.
	credit.lose = true
	_, err = e.svc.GetPayInfo(ctx, "T-01", cr("CR-3", pcs("G1", 1)))
	credit.lose = false
	if codeOf(err) != devmsg.CodeOffline {
		t.Fatalf("lost reply: %v", err)
	}
	o3 := e.svc.List(ordermsg.StatusPending, 1)[0]
	if _, err := cl.Authorize(ctx, "acct-1", 600, "probe-1", time.Minute); !errors.Is(err, upstream.ErrInsufficientCredit) {
		t.Fatalf("the lost hold does not exist at the cloud? %v", err)
	}
	if err := e.svc.CancelOrder("T-01", o3.OID); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, "release", func() bool { o, _, _ := e.svc.Get(o3.OID); return o.Attempts[0].Released })
	tok, err := cl.Authorize(ctx, "acct-1", 600, "probe-2", time.Minute)
	if err != nil {
		t.Fatalf("hold not released: %v", err)
	}
	cl.Cancel(ctx, tok)
	// Cloud unreachable: offline.
	down := upstream.New("http://127.0.0.1:1", "store-1", secret, time.Second)
	e2 := newEnv(t, Config{}, payments.Providers{Credit: down})
	if _, err := e2.svc.GetPayInfo(ctx, "T-01", cr("CR-4", pcs("G1", 1))); codeOf(err) != devmsg.CodeOffline {
		t.Fatalf("unreachable: %v", err)
	}
	e.checkInvariants()
	e2.checkInvariants()
}

// A box an hour behind its cloud: the cloud relays a notify signed with
// its own time, which this box's clock would call an hour stale. Judged by
// the cloud's time as the box knows it (CloudNow), it is taken.
func TestNotifyFromACloudAnHourAhead(t *testing.T) {
	bank, q := newBank(t)
	cloudNow := func() time.Time { return time.Now().Add(time.Hour) }
	e := newEnv(t, Config{NotifySecret: secret, CloudNow: cloudNow}, payments.Providers{Payment: q})
	srv := httptest.NewServer(e.svc.NotifyHandler())
	defer srv.Close()
	p, err := e.svc.GetPayInfo(context.Background(), "T-01", qrReq("C-1", pcs("G1", 1)))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := bank.MarkPaid(p.OID + "-1")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]string{"ShopNo": shopNo, "PayToken": tok})
	if code, msg := postNotify(t, srv.URL, ledger.Sign(secret, time.Now(), body), body); code != http.StatusUnauthorized {
		t.Fatalf("signed with the box's own time, an hour off the cloud's: HTTP %d %s", code, msg)
	}
	if code, msg := postNotify(t, srv.URL, ledger.Sign(secret, cloudNow(), body), body); code != http.StatusOK {
		t.Fatalf("signed with the cloud's time: HTTP %d %s", code, msg)
	}
	if o := e.order(p.OID); o.Status != ordermsg.StatusPaid {
		t.Fatalf("after the notify: %s", o.Status)
	}
}

// An ATM payment's expiry date goes to the bank on the cloud's time
// (QPay.Now), not on a box clock that lost the date.
func TestQPayATMExpiryOnTheCloudsDate(t *testing.T) {
	bank, q := newBank(t)
	cloud := time.Date(2026, 12, 7, 4, 0, 0, 0, time.UTC)
	q.Now = func() time.Time { return cloud }
	e := newEnv(t, Config{}, payments.Providers{Payment: q})
	atm, err := e.svc.GetPayInfo(context.Background(), "T-01", ordermsg.PayRequest{OrderID: "A-1", PayMethod: ordermsg.MethodATM, Lines: []ordermsg.LineRequest{pcs("G2", 1)}})
	if err != nil {
		t.Fatal(err)
	}
	if bo, _ := bank.Order(atm.OID + "-1"); bo.ExpireDate != "20261208" {
		t.Fatalf("ATM expiry date %q, want the cloud's tomorrow 20261208", bo.ExpireDate)
	}
}
