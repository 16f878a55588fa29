package orders

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/storebox/storebox/daemon/payments"
	"github.com/storebox/storebox/protocol/devmsg"
	"github.com/storebox/storebox/protocol/ledger"
	"github.com/storebox/storebox/protocol/ordermsg"
	"github.com/storebox/storebox/test/testenv"
)

type recPusher struct {
	mu  sync.Mutex
	got []string
}

func (p *recPusher) Push(equipID, action string, body any) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.got = append(p.got, equipID+" "+action)
	return true
}

func (p *recPusher) has(s string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, g := range p.got {
		if g == s {
			return true
		}
	}
	return false
}

func codeOf(err error) string {
	if err == nil {
		return ""
	}
	return devmsg.AsError(err).Code
}

func TestExpiryFromDiskSurvivesRestart(t *testing.T) {
	e := newEnv(t, Config{TTL: time.Hour}, payments.Providers{})
	ctx := context.Background()
	p, err := e.svc.GetPayInfo(ctx, "T-01", cashReq("E-1", pcs("G1", 4)))
	if err != nil {
		t.Fatal(err)
	}
	if !p.ExpiresAt.After(time.Now().Add(59 * time.Minute)) {
		t.Fatalf("expires_at %s", p.ExpiresAt)
	}
	// Restart: the order and its reservation come back from disk.
	e.close()
	e.open()
	pusher := &recPusher{}
	e.push.set(pusher)
	if l := e.stock("G1"); l.Reserved != 4 {
		t.Fatalf("reservation after restart %+v", l)
	}
	if _, err := e.svc.expireDue(time.Now()); err != nil {
		t.Fatal(err)
	}
	if e.order(p.OID).Status != ordermsg.StatusPending {
		t.Fatal("expired early")
	}
	next, err := e.svc.expireDue(time.Now().Add(2 * time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if !next.IsZero() {
		t.Fatalf("next expiry %s with nothing pending", next)
	}
	o := e.order(p.OID)
	if o.Status != ordermsg.StatusExpired || o.ClosedAt == nil {
		t.Fatalf("order %+v", o)
	}
	if l := e.stock("G1"); l.Reserved != 0 || l.OnHand != 10 {
		t.Fatalf("stock after expiry %+v", l)
	}
	if !pusher.has("T-01 orderExpired") {
		t.Fatalf("pushes %v", pusher.got)
	}
	if n := len(e.events(ledger.OrderExpired)); n != 1 {
		t.Fatalf("%d order.expired", n)
	}
	// Paying or cancelling an expired order never revives its reservation.
	if err := e.svc.CancelOrder("T-01", p.OID); err != nil {
		t.Fatal(err)
	}
	if e.order(p.OID).Status != ordermsg.StatusExpired {
		t.Fatal("cancel changed an expired order")
	}
	e.checkInvariants()
}

func TestServeExpiresOrders(t *testing.T) {
	e := newEnv(t, Config{TTL: time.Second}, payments.Providers{})
	p, err := e.svc.GetPayInfo(context.Background(), "T-01", cashReq("E-1", pcs("G1", 1)))
	if err != nil {
		t.Fatal(err)
	}
	e.serve()
	testenv.Eventually(t, "expiry by Serve", func() bool { o, _, _ := e.svc.Get(p.OID); return o.Status == ordermsg.StatusExpired })
	e.checkInvariants()
}

func TestLatePaymentAfterExpiry(t *testing.T) {
	e := newEnv(t, Config{TTL: time.Hour}, payments.Providers{})
	ctx := context.Background()
	a, _ := e.svc.GetPayInfo(ctx, "T-01", cashReq("L-1", pcs("G2", 2)))
	b, _ := e.svc.GetPayInfo(ctx, "T-01", cashReq("L-2", pcs("G2", 1)))
	e.svc.expireDue(time.Now().Add(2 * time.Hour))
	// Stock still there: a late cash payment books it.
	if err := e.svc.MakePayment("T-01", a.OID, ordermsg.MethodCash, a.AmountTotal); err != nil {
		t.Fatal(err)
	}
	if o := e.order(a.OID); o.Status != ordermsg.StatusPaid {
		t.Fatalf("late payment: %+v", o)
	}
	if l := e.stock("G2"); l.OnHand != 1 || l.Reserved != 0 {
		t.Fatalf("G2 %+v", l)
	}
	// Someone buys the last one; the other expired order's late payment
	// cannot take stock any more: needs review, stock untouched.
	c, err := e.svc.GetPayInfo(ctx, "T-02", cashReq("L-3", pcs("G2", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.MakePayment("T-02", c.OID, ordermsg.MethodCash, c.AmountTotal); err != nil {
		t.Fatal(err)
	}
	err = e.svc.MakePayment("T-01", b.OID, ordermsg.MethodCash, b.AmountTotal)
	if codeOf(err) != devmsg.CodeConflict {
		t.Fatalf("late payment without stock: %v", err)
	}
	o := e.order(b.OID)
	if o.Status != ordermsg.StatusNeedsReview || !o.NeedsReview() || o.LastAttempt().State != ordermsg.AttemptPaid {
		t.Fatalf("order %+v", o)
	}
	if l := e.stock("G2"); l.OnHand != 0 || l.Reserved != 0 {
		t.Fatalf("G2 %+v", l)
	}
	if rv := e.svc.NeedsReview(); len(rv) != 1 || rv[0].OID != b.OID {
		t.Fatalf("NeedsReview %v", rv)
	}
	if c := e.svc.Counts(); c[ordermsg.StatusNeedsReview] != 1 || c[ordermsg.StatusPaid] != 2 || c["review"] != 0 || c[ordermsg.StatusExpired] != 0 {
		t.Fatalf("counts %v", c)
	}
	if n := len(e.events(ledger.OrderReview)); n != 1 {
		t.Fatalf("%d needs_review events", n)
	}
	e.checkInvariants()
}

// scripted is a payments.Provider whose answers a test sets.
type scripted struct {
	mu      sync.Mutex
	created map[string]int
	reports map[string]payments.Report
	down    bool
}

func newScripted() *scripted {
	return &scripted{created: map[string]int{}, reports: map[string]payments.Report{}}
}
func (p *scripted) Name() string   { return "script" }
func (p *scripted) TestMode() bool { return false }
func (p *scripted) Create(_ context.Context, r payments.CreateRequest) (payments.Created, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.down {
		return payments.Created{}, payments.ErrUnavailable
	}
	p.created[r.Ref]++
	if _, ok := p.reports[r.Ref]; !ok {
		p.reports[r.Ref] = payments.Report{Found: true, Ref: r.Ref, Amount: r.Amount}
	}
	return payments.Created{URL: "https://pay.example/" + r.Ref}, nil
}
func (p *scripted) Query(_ context.Context, ref string) (payments.Report, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.down {
		return payments.Report{}, payments.ErrUnavailable
	}
	return p.reports[ref], nil
}
func (p *scripted) QueryToken(_ context.Context, tok string) (payments.Report, error) {
	return p.Query(context.Background(), tok)
}
func (p *scripted) set(ref, status string, amount int64) {
	p.mu.Lock()
	p.reports[ref] = payments.Report{Found: true, Ref: ref, Amount: amount, Status: status}
	p.mu.Unlock()
}

func TestPaidIsFinalAndConflictsAreFlagged(t *testing.T) {
	prov := newScripted()
	e := newEnv(t, Config{}, payments.Providers{Payment: prov})
	ctx := context.Background()
	req := ordermsg.PayRequest{OrderID: "Q-1", PayMethod: ordermsg.MethodQR, Lines: []ordermsg.LineRequest{pcs("G1", 2)}}
	p, err := e.svc.GetPayInfo(ctx, "T-01", req)
	if err != nil {
		t.Fatal(err)
	}
	ref1 := p.OID + "-1"
	if p.URL != "https://pay.example/"+ref1 {
		t.Fatalf("url %q", p.URL)
	}
	// Re-issue with another method: same order, a new attempt; the old
	// QR stays watched.
	req.PayMethod = ordermsg.MethodCash
	p2, err := e.svc.GetPayInfo(ctx, "T-01", req)
	if err != nil || p2.OID != p.OID || p2.URL != "" || p2.Method != ordermsg.MethodCash {
		t.Fatalf("reissue %+v %v", p2, err)
	}
	if l := e.stock("G1"); l.Reserved != 2 {
		t.Fatalf("reissue reserved again %+v", l)
	}
	// The customer pays the old QR after all: it pays the order.
	prov.set(ref1, payments.ReportPaid, p.AmountTotal)
	if err := e.svc.pollNow(ctx, p.OID, 1); err != nil {
		t.Fatal(err)
	}
	o := e.order(p.OID)
	if o.Status != ordermsg.StatusPaid || o.PaidBy != 1 || o.Method != ordermsg.MethodQR {
		t.Fatalf("order %+v", o)
	}
	// News that contradicts paid: the provider now says failed. Paid
	// stays, the order is flagged.
	prov.set(ref1, payments.ReportFailed, p.AmountTotal)
	if err := e.svc.pollNow(ctx, p.OID, 1); err != nil {
		t.Fatal(err)
	}
	o = e.order(p.OID)
	if o.Status != ordermsg.StatusPaid || !o.NeedsReview() {
		t.Fatalf("late failure: %+v", o)
	}
	// A second payment (cash on the same order) is refused; the stock was
	// taken once.
	if err := e.svc.MakePayment("T-01", p.OID, ordermsg.MethodCash, p.AmountTotal); codeOf(err) != devmsg.CodeConflict {
		t.Fatalf("second payment: %v", err)
	}
	if l := e.stock("G1"); l.OnHand != 8 || l.Reserved != 0 {
		t.Fatalf("G1 %+v", l)
	}
	if n := len(e.events(ledger.OrderPaid)); n != 1 {
		t.Fatalf("%d order.paid", n)
	}
	e.checkInvariants()
}

func TestProviderReportsMustMatch(t *testing.T) {
	prov := newScripted()
	e := newEnv(t, Config{}, payments.Providers{Payment: prov})
	ctx := context.Background()
	p, err := e.svc.GetPayInfo(ctx, "T-01", ordermsg.PayRequest{OrderID: "M-1", PayMethod: ordermsg.MethodCard, Lines: []ordermsg.LineRequest{pcs("G1", 1)}})
	if err != nil {
		t.Fatal(err)
	}
	ref := p.OID + "-1"
	for _, bad := range []payments.Report{
		{Found: true, Ref: ref, Amount: p.AmountTotal + 1, Status: payments.ReportPaid},   // amount
		{Found: true, Ref: "other-1", Amount: p.AmountTotal, Status: payments.ReportPaid}, // order number
		{Found: false, Ref: ref, Amount: p.AmountTotal, Status: payments.ReportPaid},      // not found
		{Found: true, Ref: ref, Amount: p.AmountTotal, Status: "P"},                       // not final
	} {
		prov.mu.Lock()
		prov.reports[ref] = bad
		prov.mu.Unlock()
		if err := e.svc.pollNow(ctx, p.OID, 1); err != nil {
			t.Fatal(err)
		}
		if o := e.order(p.OID); o.Status != ordermsg.StatusPending {
			t.Fatalf("report %+v marked the order %s", bad, o.Status)
		}
	}
	if o := e.order(p.OID); !o.NeedsReview() || !strings.Contains(o.Reviews[0].Reason, "amount") {
		t.Fatalf("amount mismatch not flagged: %+v", o.Reviews)
	}
	// A provider that is down leaves the attempt "sending"; the retry asks
	// first and creates the same order number only if the provider lacks it.
	prov.mu.Lock()
	prov.down = true
	prov.mu.Unlock()
	_, err = e.svc.GetPayInfo(ctx, "T-01", ordermsg.PayRequest{OrderID: "M-2", PayMethod: ordermsg.MethodQR, Lines: []ordermsg.LineRequest{pcs("G1", 1)}})
	if codeOf(err) != devmsg.CodeOffline {
		t.Fatalf("provider down: %v", err)
	}
	o2 := e.svc.List(ordermsg.StatusPending, 10)[0]
	if o2.OrderID != "M-2" || o2.LastAttempt().State != ordermsg.AttemptSending {
		t.Fatalf("order %+v", o2)
	}
	prov.mu.Lock()
	prov.down = false
	prov.mu.Unlock()
	p3, err := e.svc.GetPayInfo(ctx, "T-01", ordermsg.PayRequest{OrderID: "M-2", PayMethod: ordermsg.MethodQR, Lines: []ordermsg.LineRequest{pcs("G1", 1)}})
	if err != nil || p3.OID != o2.OID || p3.URL == "" {
		t.Fatalf("retry %+v %v", p3, err)
	}
	if prov.created[o2.OID+"-1"] != 1 || len(e.order(o2.OID).Attempts) != 1 {
		t.Fatalf("created %v attempts %+v", prov.created, e.order(o2.OID).Attempts)
	}
	// Once the provider has it (reply lost), a retry never creates that
	// order number again: it starts attempt 2.
	p4, err := e.svc.GetPayInfo(ctx, "T-01", ordermsg.PayRequest{OrderID: "M-3", PayMethod: ordermsg.MethodQR, Lines: []ordermsg.LineRequest{pcs("G1", 1)}})
	if err != nil {
		t.Fatal(err)
	}
	e.svc.update(p4.OID, func(tx *storeTx, old *ordermsg.Order) (*ordermsg.Order, error) { // forget the reply
		o := old.Clone()
		o.Attempts[0].State, o.Attempts[0].URL = ordermsg.AttemptSending, ""
		return o, saveOrder(tx, old, o, e.svc)
	})
	p5, err := e.svc.GetPayInfo(ctx, "T-01", ordermsg.PayRequest{OrderID: "M-3", PayMethod: ordermsg.MethodQR, Lines: []ordermsg.LineRequest{pcs("G1", 1)}})
	if err != nil || p5.URL != "https://pay.example/"+p4.OID+"-2" {
		t.Fatalf("after lost reply: %+v %v", p5, err)
	}
	if prov.created[p4.OID+"-1"] != 1 {
		t.Fatalf("order number created %d times", prov.created[p4.OID+"-1"])
	}
	e.checkInvariants()
}

func TestServePollsProvider(t *testing.T) {
	prov := newScripted()
	e := newEnv(t, Config{PollInterval: 20 * time.Millisecond, PollMax: 100 * time.Millisecond}, payments.Providers{Payment: prov})
	pusher := &recPusher{}
	e.push.set(pusher)
	e.serve()
	p, err := e.svc.GetPayInfo(context.Background(), "T-01", ordermsg.PayRequest{OrderID: "S-1", PayMethod: ordermsg.MethodATM, Lines: []ordermsg.LineRequest{grams("K1", 500)}})
	if err != nil {
		t.Fatal(err)
	}
	if p.AmountTotal != 645 {
		t.Fatalf("amount %d", p.AmountTotal)
	}
	prov.set(p.OID+"-1", payments.ReportPaid, p.AmountTotal)
	testenv.Eventually(t, "paid by polling", func() bool { o, _, _ := e.svc.Get(p.OID); return o.Status == ordermsg.StatusPaid })
	testenv.Eventually(t, "push", func() bool { return pusher.has("T-01 orderPaid") })
	if l := e.stock("K1"); l.OnHand != 19500 || l.Reserved != 0 {
		t.Fatalf("K1 %+v", l)
	}
}

// doorBeside is a door beside terminal T-DOOR that last admitted door-user.
type doorBeside struct{}

func (doorBeside) LastAdmitted(equip string) (string, bool) { return "door-user", equip == "T-DOOR" }

func TestOpenIDLookups(t *testing.T) {
	e := newEnv(t, Config{TTL: time.Hour, Admitted: doorBeside{}}, payments.Providers{})
	ctx := context.Background()
	p, _ := e.svc.GetPayInfo(ctx, "T-DOOR", cashReq("D-1", pcs("G1", 1)))
	if e.order(p.OID).OpenID != "door-user" {
		t.Fatal("openId not taken from the door")
	}
	q, _ := e.svc.GetPayInfo(ctx, "T-01", ordermsg.PayRequest{OrderID: "D-2", PayMethod: ordermsg.MethodCash, OpenID: "u2", Lines: []ordermsg.LineRequest{pcs("G1", 1)}})
	check := func(id string, pending, expired bool) {
		t.Helper()
		p, err1 := e.svc.HasPendingUnpaid(id)
		x, err2 := e.svc.HasExpiredUnpaid(id)
		if err1 != nil || err2 != nil || p != pending || x != expired {
			t.Fatalf("%s: pending %v expired %v", id, p, x)
		}
	}
	check("door-user", true, false)
	check("u2", true, false)
	check("nobody", false, false)
	e.svc.MakePayment("T-DOOR", p.OID, ordermsg.MethodCash, p.AmountTotal)
	e.svc.expireDue(time.Now().Add(2 * time.Hour))
	check("door-user", false, false)
	check("u2", false, true)
	_ = q
	if r := e.svc.Recent(10); len(r) != 2 || r[0].OrderID != "D-2" {
		t.Fatalf("recent %v", r)
	}
	if l := e.svc.List(ordermsg.StatusPaid, 10); len(l) != 1 || l[0].OID != p.OID {
		t.Fatalf("list paid %v", l)
	}
}

func TestLostLinkStartsNewAttempt(t *testing.T) {
	prov := newScripted()
	e := newEnv(t, Config{}, payments.Providers{Payment: prov})
	ctx := context.Background()
	req := ordermsg.PayRequest{OrderID: "LL-1", PayMethod: ordermsg.MethodQR, Lines: []ordermsg.LineRequest{pcs("G1", 1)}}
	p, err := e.svc.GetPayInfo(ctx, "T-01", req)
	if err != nil {
		t.Fatal(err)
	}
	// As after a restart: polling found the payment, its link was never seen.
	e.svc.update(p.OID, func(tx *storeTx, old *ordermsg.Order) (*ordermsg.Order, error) {
		o := old.Clone()
		o.Attempts[0].URL = ""
		return o, saveOrder(tx, old, o, e.svc)
	})
	p2, err := e.svc.GetPayInfo(ctx, "T-01", req)
	if err != nil || p2.OID != p.OID || p2.URL != "https://pay.example/"+p.OID+"-2" {
		t.Fatalf("%+v %v", p2, err)
	}
	if o := e.order(p.OID); o.Attempts[0].State != ordermsg.AttemptSuperseded {
		t.Fatalf("old attempt %+v", o.Attempts[0])
	}
	// A repeat now is the same payment.
	if p3, _ := e.svc.GetPayInfo(ctx, "T-01", req); p3.URL != p2.URL || len(e.order(p.OID).Attempts) != 2 {
		t.Fatalf("repeat %+v", p3)
	}
	// payments.Credit tokens never leave through the query API.
	e.svc.update(p.OID, func(tx *storeTx, old *ordermsg.Order) (*ordermsg.Order, error) {
		o := old.Clone()
		o.Attempts[0].Account = "secret-token"
		return o, saveOrder(tx, old, o, e.svc)
	})
	for _, o := range append(e.svc.Recent(5), e.order(p.OID)) {
		for _, a := range o.Attempts {
			if a.Account == "secret-token" {
				t.Fatal("account token exposed")
			}
		}
	}
}

func TestPollingResumesAfterRestart(t *testing.T) {
	prov := newScripted()
	e := newEnv(t, Config{PollInterval: 20 * time.Millisecond, PollMax: 100 * time.Millisecond}, payments.Providers{Payment: prov})
	p, err := e.svc.GetPayInfo(context.Background(), "T-01", ordermsg.PayRequest{OrderID: "RS-1", PayMethod: ordermsg.MethodCard, Lines: []ordermsg.LineRequest{pcs("G2", 1)}})
	if err != nil {
		t.Fatal(err)
	}
	e.close()
	prov.set(p.OID+"-1", payments.ReportPaid, p.AmountTotal) // paid while the daemon was down
	e.open()
	e.serve()
	testenv.Eventually(t, "paid after restart", func() bool { o, _, _ := e.svc.Get(p.OID); return o.Status == ordermsg.StatusPaid })
	if l := e.stock("G2"); l.OnHand != 2 || l.Reserved != 0 {
		t.Fatalf("G2 %+v", l)
	}
	// Nothing is left to do for it once the late window has no open attempt.
	if o := e.order(p.OID); len(e.svc.workFor(&o, time.Now())) != 0 {
		t.Fatalf("work left: %v", e.svc.workFor(&o, time.Now()))
	}
}
