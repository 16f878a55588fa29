package qpay_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	wire "github.com/storebox/storebox/protocol/qpay"
	"github.com/storebox/storebox/sync/qpay"
	"github.com/storebox/storebox/sync/qpay/fakebank"
)

// The shop keys of the bank's published sample (vector hashid_1).
const (
	shopNo = "BA0026_001"
	a1, a2 = "4D9709D699CA40EE", "5A4FEF83140C4E9E"
	b1, b2 = "BC74301945134CB4", "961F67F8FCA44AB9"
)

type rig struct {
	bank   *fakebank.Bank
	srv    *httptest.Server
	client *qpay.Client
}

func newRig(t *testing.T, mod func(*qpay.Config)) *rig {
	t.Helper()
	bank, err := fakebank.New(shopNo, a1, a2, b1, b2)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(bank)
	t.Cleanup(func() { bank.Close(); srv.Close() })
	cfg := qpay.Config{
		BaseURL: srv.URL + "/funBIZ/QPay.WebAPI/api/", ShopNo: shopNo, A1: a1, A2: a2, B1: b1, B2: b2,
		ReturnURL: "https://cloud.example/qpay/return", BackendURL: "https://cloud.example/qpay/notify",
		Logger: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:    func() time.Time { return time.Date(2026, 11, 27, 20, 0, 0, 0, time.UTC) },
	}
	if mod != nil {
		mod(&cfg)
	}
	c, err := qpay.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &rig{bank: bank, srv: srv, client: c}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestCreateATMAndCard(t *testing.T) {
	r := newRig(t, nil)
	ctx := ctxT(t)

	atm, err := r.client.CreateOrder(ctx, qpay.CreateRequest{OrderNo: "S1-0001", Amount: 50000, PayType: "A", ProductName: "虛擬帳號訂單"})
	if err != nil {
		t.Fatal(err)
	}
	if atm.Status != "S" || atm.TSNo == "" || atm.AtmPayNo == "" || atm.PayURL == "" {
		t.Fatalf("ATM result = %+v", atm)
	}
	o, ok := r.bank.Order("S1-0001")
	if !ok || o.Amount != 50000 || o.PayType != "A" || o.AtmPayNo != atm.AtmPayNo || o.BackendURL != "https://cloud.example/qpay/notify" {
		t.Fatalf("bank order = %+v", o)
	}
	// Default ATM expiry: tomorrow in Taiwan (20:00 UTC is already the 28th there).
	if o.ExpireDate != "20261129" {
		t.Fatalf("ATM ExpireDate = %s, want 20261129", o.ExpireDate)
	}

	card, err := r.client.CreateOrder(ctx, qpay.CreateRequest{OrderNo: "S1-0002", Amount: 12300, PayType: "C", ProductName: "Apples", CardExpMinutes: 5})
	if err != nil {
		t.Fatal(err)
	}
	if card.Status != "S" || card.PayURL == "" || card.AtmPayNo != "" {
		t.Fatalf("card result = %+v", card)
	}
	// The bank's pay page is really there.
	resp, err := http.Get(card.PayURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("pay page: HTTP %d", resp.StatusCode)
	}

	// Same OrderNo again: the bank refuses, signed; a BankError, not retryable.
	_, err = r.client.CreateOrder(ctx, qpay.CreateRequest{OrderNo: "S1-0002", Amount: 12300, PayType: "C", ProductName: "Apples"})
	var be *qpay.BankError
	if !errors.As(err, &be) || be.Status != "F" || !errors.Is(err, qpay.ErrRejected) || qpay.Retryable(err) {
		t.Fatalf("duplicate create: %v", err)
	}
	st := r.bank.Stats()
	if st.Calls[wire.ServiceOrderCreate] != 3 || st.Rejected != 0 || st.Nonces != 3 {
		t.Fatalf("bank stats = %+v", st)
	}
}

func TestCreateValidation(t *testing.T) {
	r := newRig(t, nil)
	ctx := ctxT(t)
	for name, req := range map[string]qpay.CreateRequest{
		"quote in order": {OrderNo: "S1'1", Amount: 1, PayType: "A", ProductName: "x"},
		"percent":        {OrderNo: "S1%1", Amount: 1, PayType: "A", ProductName: "x"},
		"long order":     {OrderNo: strings.Repeat("9", 51), Amount: 1, PayType: "A", ProductName: "x"},
		"long name":      {OrderNo: "S1", Amount: 1, PayType: "C", ProductName: strings.Repeat("名", 61)},
		"zero amount":    {OrderNo: "S1", Amount: 0, PayType: "A", ProductName: "x"},
		"bad pay type":   {OrderNo: "S1", Amount: 1, PayType: "Q", ProductName: "x"},
		"bad expiry":     {OrderNo: "S1", Amount: 1, PayType: "A", ProductName: "x", ATMExpireDate: "2026-12-01"},
	} {
		if _, err := r.client.CreateOrder(ctx, req); !errors.Is(err, qpay.ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
	if n := r.bank.Stats().Nonces; n != 0 {
		t.Fatalf("invalid requests reached the bank: %d nonces", n)
	}
}

func TestQueryUnpaidPaidAndPayToken(t *testing.T) {
	r := newRig(t, nil)
	ctx := ctxT(t)
	if _, err := r.client.CreateOrder(ctx, qpay.CreateRequest{OrderNo: "S1-0100", Amount: 9900, PayType: "C", ProductName: "Milk"}); err != nil {
		t.Fatal(err)
	}

	tx, err := r.client.QueryOrder(ctx, "S1-0100")
	if err != nil {
		t.Fatal(err)
	}
	if !tx.Found || tx.OrderNo != "S1-0100" || tx.Amount != 9900 || tx.PaidFor("S1-0100", 9900) || tx.FailedFor("S1-0100") {
		t.Fatalf("unpaid: %+v", tx)
	}

	missing, err := r.client.QueryOrder(ctx, "S1-NOPE")
	if err != nil || missing.Found || missing.PaidFor("S1-NOPE", 0) {
		t.Fatalf("unknown order: %+v, %v", missing, err)
	}

	token, err := r.bank.MarkPaid("S1-0100")
	if err != nil {
		t.Fatal(err)
	}
	tx, err = r.client.QueryOrder(ctx, "S1-0100")
	if err != nil {
		t.Fatal(err)
	}
	if !tx.PaidFor("S1-0100", 9900) || tx.TSNo == "" || tx.PayType != "C" {
		t.Fatalf("paid: %+v", tx)
	}
	// Paid, but not for this amount or this order.
	if tx.PaidFor("S1-0100", 9901) || tx.PaidFor("S1-0101", 9900) || tx.PaidFor("", 9900) {
		t.Fatal("PaidFor matched a different order or amount")
	}

	ptx, err := r.client.QueryPayToken(ctx, token)
	if err != nil {
		t.Fatal(err)
	}
	if !ptx.PaidFor("S1-0100", 9900) {
		t.Fatalf("pay token: %+v", ptx)
	}
	_, err = r.client.QueryPayToken(ctx, "no-such-token")
	if !errors.Is(err, qpay.ErrRejected) {
		t.Fatalf("unknown token: %v", err)
	}

	// A failed payment is reported as failed, never paid.
	if _, err := r.client.CreateOrder(ctx, qpay.CreateRequest{OrderNo: "S1-0101", Amount: 100, PayType: "A", ProductName: "Egg"}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.bank.MarkFailed("S1-0101"); err != nil {
		t.Fatal(err)
	}
	tx, err = r.client.QueryOrder(ctx, "S1-0101")
	if err != nil || tx.PaidFor("S1-0101", 100) || !tx.FailedFor("S1-0101") {
		t.Fatalf("failed: %+v, %v", tx, err)
	}
	if r.bank.Stats().Rejected != 0 {
		t.Fatal("bank rejected a client request")
	}
}

// TestTamperedRepliesNeverPaid: with the order really paid at the bank,
// every injected misbehaviour must keep PaidFor false (or fail the call).
func TestTamperedRepliesNeverPaid(t *testing.T) {
	r := newRig(t, nil)
	ctx := ctxT(t)
	if _, err := r.client.CreateOrder(ctx, qpay.CreateRequest{OrderNo: "S1-0200", Amount: 50000, PayType: "A", ProductName: "Rice"}); err != nil {
		t.Fatal(err)
	}
	token, err := r.bank.MarkPaid("S1-0200")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		fault   fakebank.Fault
		wantErr error // nil: the call succeeds but PaidFor must be false
	}{
		{fakebank.FaultBadSign, wire.ErrBadSign},
		{fakebank.FaultAmount, nil},
		{fakebank.FaultInnerFail, nil},
		{fakebank.FaultOrderMismatch, nil},
		{fakebank.FaultServerError, qpay.ErrUnavailable},
	} {
		r.bank.SetFault(tc.fault)
		for name, query := range map[string]func() (qpay.Transaction, error){
			"QueryOrder":    func() (qpay.Transaction, error) { return r.client.QueryOrder(ctx, "S1-0200") },
			"QueryPayToken": func() (qpay.Transaction, error) { return r.client.QueryPayToken(ctx, token) },
		} {
			tx, err := query()
			if tx.PaidFor("S1-0200", 50000) {
				t.Errorf("fault %d %s: reported paid: %+v", tc.fault, name, tx)
			}
			if tc.wantErr == nil && err != nil {
				t.Errorf("fault %d %s: %v", tc.fault, name, err)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("fault %d %s: err = %v, want %v", tc.fault, name, err, tc.wantErr)
			}
			if tc.fault == fakebank.FaultBadSign && (!errors.Is(err, qpay.ErrUntrusted) || qpay.Retryable(err)) {
				t.Errorf("bad sign: err = %v, want ErrUntrusted", err)
			}
		}
	}
	// Bad sign on create: no pay code is shown.
	r.bank.SetFault(fakebank.FaultBadSign)
	if res, err := r.client.CreateOrder(ctx, qpay.CreateRequest{OrderNo: "S1-0201", Amount: 1, PayType: "A", ProductName: "x"}); !errors.Is(err, qpay.ErrUntrusted) {
		t.Fatalf("create with bad sign: %+v, %v", res, err)
	}
	// Amount altered on create: no pay code either.
	r.bank.SetFault(fakebank.FaultAmount)
	if res, err := r.client.CreateOrder(ctx, qpay.CreateRequest{OrderNo: "S1-0202", Amount: 1, PayType: "C", ProductName: "x"}); !errors.Is(err, qpay.ErrUntrusted) {
		t.Fatalf("create with altered amount: %+v, %v", res, err)
	}
	r.bank.SetFault(fakebank.FaultNone)
	tx, err := r.client.QueryOrder(ctx, "S1-0200")
	if err != nil || !tx.PaidFor("S1-0200", 50000) {
		t.Fatalf("after faults cleared: %+v, %v", tx, err)
	}
}

func TestHangTimesOutAsUnavailable(t *testing.T) {
	r := newRig(t, func(c *qpay.Config) { c.HTTPClient = &http.Client{Timeout: 300 * time.Millisecond} })
	r.bank.SetFault(fakebank.FaultHang)
	ctx := ctxT(t)
	_, err := r.client.QueryOrder(ctx, "S1-0300")
	if !errors.Is(err, qpay.ErrUnavailable) || !qpay.Retryable(err) {
		t.Fatalf("hang: %v", err)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("transport timeout leaks context.DeadlineExceeded: %v", err)
	}
	// The caller's own deadline is reported as such.
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	r2 := newRig(t, nil)
	r2.bank.SetFault(fakebank.FaultHang)
	_, err = r2.client.QueryOrder(short, "S1-0300")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("caller deadline: %v", err)
	}
}

func TestUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	c, err := qpay.New(qpay.Config{BaseURL: url, ShopNo: shopNo, A1: a1, A2: a2, B1: b1, B2: b2})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.QueryOrder(ctxT(t), "S1-1")
	if !errors.Is(err, qpay.ErrUnavailable) {
		t.Fatalf("unreachable: %v", err)
	}
}

func TestWrongKeysRejectedByBank(t *testing.T) {
	// A client with other keys: the bank refuses its Sign (HTTP 400), which
	// is a rejection, not something to retry.
	r := newRig(t, func(c *qpay.Config) { c.A1 = "0000000000000000" })
	_, err := r.client.QueryOrder(ctxT(t), "S1-1")
	if !errors.Is(err, qpay.ErrRejected) || qpay.Retryable(err) {
		t.Fatalf("wrong keys: %v", err)
	}
	if r.bank.Stats().Rejected != 1 {
		t.Fatalf("bank stats: %+v", r.bank.Stats())
	}
}

func TestWaitPaid(t *testing.T) {
	r := newRig(t, func(c *qpay.Config) {
		c.PollInterval = 20 * time.Millisecond
		c.PollMax = 20 * time.Second
	})
	ctx := ctxT(t)
	if _, err := r.client.CreateOrder(ctx, qpay.CreateRequest{OrderNo: "S1-0400", Amount: 700, PayType: "C", ProductName: "Tea"}); err != nil {
		t.Fatal(err)
	}
	// Paid after a few polls, one of them through a bank outage.
	settled := make(chan error, 1)
	go func() {
		for r.bank.Stats().Calls[wire.ServiceOrderQuery] < 2 {
			if ctx.Err() != nil {
				settled <- ctx.Err()
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
		r.bank.SetFault(fakebank.FaultServerError)
		time.Sleep(60 * time.Millisecond)
		r.bank.SetFault(fakebank.FaultNone)
		_, err := r.bank.MarkPaid("S1-0400")
		settled <- err
	}()
	tx, err := r.client.WaitPaid(ctx, "S1-0400", 700)
	if serr := <-settled; serr != nil {
		t.Fatal(serr)
	}
	if err != nil || !tx.PaidFor("S1-0400", 700) {
		t.Fatalf("WaitPaid: %+v, %v", tx, err)
	}
	if st := r.bank.Stats(); st.Calls[wire.ServiceOrderQuery] < 3 {
		t.Fatalf("paid without polling through the outage: %+v", st)
	}

	// Never paid: gives up after PollMax with ErrUnavailable and the last state.
	r2 := newRig(t, func(c *qpay.Config) {
		c.PollInterval = 10 * time.Millisecond
		c.PollMax = 200 * time.Millisecond
	})
	if _, err := r2.client.CreateOrder(ctx, qpay.CreateRequest{OrderNo: "S1-0401", Amount: 1, PayType: "C", ProductName: "x"}); err != nil {
		t.Fatal(err)
	}
	tx, err = r2.client.WaitPaid(ctx, "S1-0401", 1)
	if !errors.Is(err, qpay.ErrUnavailable) || !tx.Found || tx.PaidFor("S1-0401", 1) {
		t.Fatalf("WaitPaid unpaid: %+v, %v", tx, err)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	for name, cfg := range map[string]qpay.Config{
		"no base":  {ShopNo: shopNo, A1: a1, A2: a2, B1: b1, B2: b2},
		"ftp base": {BaseURL: "ftp://x", ShopNo: shopNo, A1: a1, A2: a2, B1: b1, B2: b2},
		"no shop":  {BaseURL: "http://x", A1: a1, A2: a2, B1: b1, B2: b2},
		"bad key":  {BaseURL: "http://x", ShopNo: shopNo, A1: "xyz", A2: a2, B1: b1, B2: b2},
	} {
		if _, err := qpay.New(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestUnsignedErrorReplyIsUntrusted(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/Nonce") {
			_, _ = w.Write([]byte(`{"Nonce":"abc"}`))
			return
		}
		// A reply outside the envelope claiming success must not be believed.
		_, _ = w.Write([]byte(`{"Status":"S","Description":"paid","TSResultContent":{"OrderNo":"S1-1","Amount":"100","Status":"S"}}`))
	}))
	defer srv.Close()
	c, err := qpay.New(qpay.Config{BaseURL: srv.URL, ShopNo: shopNo, A1: a1, A2: a2, B1: b1, B2: b2})
	if err != nil {
		t.Fatal(err)
	}
	tx, err := c.QueryOrder(ctxT(t), "S1-1")
	if !errors.Is(err, qpay.ErrUntrusted) || tx.PaidFor("S1-1", 100) {
		t.Fatalf("unsigned reply: %+v, %v", tx, err)
	}
	tx, err = c.QueryPayToken(ctxT(t), "tok")
	if !errors.Is(err, qpay.ErrUntrusted) || tx.PaidFor("S1-1", 100) {
		t.Fatalf("unsigned reply: %+v, %v", tx, err)
	}
}

func BenchmarkQueryOrder(b *testing.B) {
	bank, err := fakebank.New(shopNo, a1, a2, b1, b2)
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(bank)
	defer srv.Close()
	c, err := qpay.New(qpay.Config{BaseURL: srv.URL, ShopNo: shopNo, A1: a1, A2: a2, B1: b1, B2: b2})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if _, err := c.CreateOrder(ctx, qpay.CreateRequest{OrderNo: "B-1", Amount: 100, PayType: "C", ProductName: "x"}); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := c.QueryOrder(ctx, "B-1"); err != nil {
			b.Fatal(err)
		}
	}
}
