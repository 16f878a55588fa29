package payments

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
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
