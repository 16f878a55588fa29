package orders

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"sync"
)

// TestProvider is the install-day and demo provider: its pay link is a page
// on the daemon's own HTTP server where a technician presses "paid" or
// "failed". No money moves; everything it touches is marked test mode.
// Its state is in memory: after a restart an open test payment stays open
// until the order expires.
type TestProvider struct {
	base string
	mu   sync.Mutex
	pays map[string]*testPay // by ref
	tok  map[string]string   // token → ref
}

type testPay struct {
	ref, oid string
	amount   int64
	status   string
	token    string
}

// NewTestProvider returns a test provider whose pay links start with
// payPageBase (the local HTTP server as devices reach it).
func NewTestProvider(payPageBase string) *TestProvider {
	return &TestProvider{base: strings.TrimRight(payPageBase, "/"), pays: map[string]*testPay{}, tok: map[string]string{}}
}

// Name implements Provider.
func (*TestProvider) Name() string { return "test" }

// TestMode implements Provider.
func (*TestProvider) TestMode() bool { return true }

// Create implements Provider; creating a ref again returns the same link.
func (p *TestProvider) Create(_ context.Context, r CreateRequest) (Created, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.pays[r.Ref]; !ok {
		p.pays[r.Ref] = &testPay{ref: r.Ref, oid: r.OID, amount: r.Amount}
	}
	return Created{URL: p.base + "/pay/test/" + url.PathEscape(r.OID)}, nil
}

func (p *TestProvider) report(tp *testPay) Report {
	if tp == nil {
		return Report{}
	}
	return Report{Found: true, Ref: tp.ref, Amount: tp.amount, Status: tp.status, Detail: "test provider"}
}

// Query implements Provider.
func (p *TestProvider) Query(_ context.Context, ref string) (Report, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.report(p.pays[ref]), nil
}

// QueryToken implements Provider.
func (p *TestProvider) QueryToken(_ context.Context, token string) (Report, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.report(p.pays[p.tok[token]]), nil
}

// Settle marks ref paid or failed, as a technician's button press does,
// and returns the pay token a notify would carry.
func (p *TestProvider) Settle(ref string, paid bool) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	tp := p.pays[ref]
	if tp == nil {
		return "", fmt.Errorf("test provider: no payment %q", ref)
	}
	status := ReportFailed
	if paid {
		status = ReportPaid
	}
	if tp.status != "" && tp.status != status {
		return "", fmt.Errorf("test provider: payment %s is already settled", ref)
	}
	tp.status = status
	if tp.token == "" {
		var b [12]byte
		_, _ = rand.Read(b[:])
		tp.token = "test_" + hex.EncodeToString(b[:])
		p.tok[tp.token] = ref
	}
	return tp.token, nil
}

var payPage = template.Must(template.New("pay").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>TEST payment {{.O.OID}}</title>
<style>body{font-family:sans-serif;max-width:32em;margin:2em auto}
.banner{background:#c00;color:#fff;padding:.5em;font-weight:bold}
button{font-size:1.4em;padding:.4em 1.2em;margin:.3em}</style></head>
<body><p class="banner">TEST MODE — no money moves. payments.provider = "test"</p>
<h1>Order {{.O.OID}}</h1>
<p>Amount: <b>{{.O.AmountTotal}}</b> (minor units) · status: <b id="status">{{.O.Status}}</b></p>
<ul>{{range .O.Lines}}<li>{{.Name}} ({{.GID}}) {{if .WeightG}}{{.WeightG}} g{{else}}× {{.Qty}}{{end}} = {{.Amount}}</li>{{end}}</ul>
{{if .Ref}}<form method="post"><input type="hidden" name="ref" value="{{.Ref}}">
<button name="result" value="paid">paid</button>
<button name="result" value="failed">failed</button></form>
{{else}}<p>Nothing to pay here.</p>{{end}}
</body></html>`))

// PayPageHandler serves the test provider's pay page under /pay/test/{oid}:
// GET shows the order, POST result=paid|failed settles its open test
// payment. It answers 404 unless the test provider is configured.
func (s *Service) PayPageHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tp, ok := s.pay.(*TestProvider)
		if !ok {
			http.Error(w, "the test payment provider is not configured (payments.provider = \"test\")", http.StatusNotFound)
			return
		}
		i := strings.LastIndex(r.URL.Path, "/pay/test/")
		if i < 0 {
			http.NotFound(w, r)
			return
		}
		oid := strings.Trim(r.URL.Path[i+len("/pay/test/"):], "/")
		o, found, err := s.Get(oid)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		if !found {
			http.Error(w, "no such order", http.StatusNotFound)
			return
		}
		switch r.Method {
		case http.MethodGet, http.MethodHead:
		case http.MethodPost:
			ref, result := r.FormValue("ref"), r.FormValue("result")
			if result != "paid" && result != "failed" {
				http.Error(w, "result must be paid or failed", http.StatusBadRequest)
				return
			}
			var n int
			for _, a := range o.Attempts {
				if a.Ref == ref && a.Provider == tp.Name() {
					n = a.N
				}
			}
			if n == 0 {
				http.Error(w, "that payment is not part of this order", http.StatusBadRequest)
				return
			}
			if _, err := tp.Settle(ref, result == "paid"); err != nil {
				http.Error(w, err.Error(), http.StatusConflict)
				return
			}
			if err := s.pollNow(r.Context(), oid, n); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			http.Redirect(w, r, r.URL.Path, http.StatusSeeOther)
			return
		default:
			w.Header().Set("Allow", "GET, POST")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		ref := ""
		if o.Status == StatusPending {
			if a := o.lastAttempt(); a != nil && a.Provider == tp.Name() && a.State == AttemptOpen {
				ref = a.Ref
			}
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_ = payPage.Execute(w, map[string]any{"O": o, "Ref": ref})
	})
}

// pollNow asks the provider about attempt n at once (a button press, a
// notify) instead of waiting for the next poll.
func (s *Service) pollNow(ctx context.Context, oid string, n int) error {
	unlock := s.lock(oid)
	defer unlock()
	return s.poll(ctx, oid, n)
}
