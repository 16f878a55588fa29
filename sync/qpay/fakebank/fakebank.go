// Package fakebank is a local stand-in for the SinoPac QPay API, for tests
// and demos. It speaks the same envelope, encryption and Sign as the bank
// (protocol/qpay), keeps orders in memory, and lets a test settle orders
// (MarkPaid, MarkFailed) and inject faults (SetFault).
//
// Served paths, under any prefix so that a client's base URL may be the
// server root or root+"/api":
//
//	POST …/Nonce               {"ShopNo"} → {"Nonce"}; each nonce is single-use
//	POST …/Order               the sealed envelope: OrderCreate, OrderQuery,
//	                           OrderPayQuery, OrderMaintain (C cancel only)
//	POST …/_fake/pay?order=N[&notify=1]   mark paid → {"PayToken"}
//	POST …/_fake/fail?order=N             mark failed → {"PayToken"}
//	POST …/_fake/fault?f=NAME             set a fault (none, badsign, amount,
//	                                      innerfail, ordermismatch, 500, hang)
//	GET  …/_fake/orders                   every order, as JSON
//
// Requests with a bad Sign, an unknown or reused nonce, another shop's
// number or an unknown service are refused with HTTP 400 and
// {"Status":"F","Description"}; they are counted in Stats().Rejected.
package fakebank

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	wire "github.com/storebox/storebox/protocol/qpay"
)

// Fault is a misbehaviour injected into the bank's replies.
type Fault int

// Faults. They apply to every reply until changed.
const (
	FaultNone          Fault = iota
	FaultBadSign             // /Order replies carry a wrong Sign
	FaultAmount              // replies report the amount plus 1 (signed correctly), create included
	FaultInnerFail           // query replies: outer Status S, transaction Status F
	FaultOrderMismatch       // query replies name another order number
	FaultServerError         // HTTP 500 on /Nonce and /Order
	FaultHang                // /Nonce and /Order never answer (until the client gives up or Close)
)

var faultNames = map[string]Fault{
	"none": FaultNone, "badsign": FaultBadSign, "amount": FaultAmount, "innerfail": FaultInnerFail,
	"ordermismatch": FaultOrderMismatch, "500": FaultServerError, "hang": FaultHang,
}

// ParseFault maps a fault name (as in /_fake/fault?f=) to a Fault.
func ParseFault(s string) (Fault, error) {
	f, ok := faultNames[s]
	if !ok {
		return 0, fmt.Errorf("fakebank: unknown fault %q", s)
	}
	return f, nil
}

// Order is an order as the fake bank holds it.
type Order struct {
	OrderNo    string
	TSNo       string
	Amount     int64
	PayType    string
	PrdtName   string
	Status     string // "" pending, "S" paid, "F" failed, "C" cancelled
	PayToken   string
	AtmPayNo   string
	PayURL     string
	ExpireDate string
	BackendURL string
	PayDate    string
}

// Stats counts what the bank has seen.
type Stats struct {
	Nonces   int            // nonces issued
	Calls    map[string]int // accepted /Order calls by APIService
	Rejected int            // refused /Order requests
}

// Bank is an in-memory QPay. Its zero value is not usable; call New.
type Bank struct {
	keys wire.Keys
	stop chan struct{}
	once sync.Once
	hc   *http.Client

	mu     sync.Mutex
	nonces map[string]bool // issued, not yet used
	orders map[string]*Order
	tokens map[string]string // PayToken → OrderNo
	fault  Fault
	seq    int
	stats  Stats
}

// New returns a bank for one shop with its four keys.
func New(shopNo, a1, a2, b1, b2 string) (*Bank, error) {
	keys, err := wire.NewKeys(shopNo, a1, a2, b1, b2)
	if err != nil {
		return nil, fmt.Errorf("fakebank: %w", err)
	}
	return &Bank{
		keys: keys, stop: make(chan struct{}), hc: &http.Client{Timeout: 10 * time.Second},
		nonces: map[string]bool{}, orders: map[string]*Order{}, tokens: map[string]string{},
		stats: Stats{Calls: map[string]int{}},
	}, nil
}

// Close releases requests held by FaultHang. The bank keeps serving.
func (b *Bank) Close() { b.once.Do(func() { close(b.stop) }) }

// SetFault sets the fault applied to later replies.
func (b *Bank) SetFault(f Fault) {
	b.mu.Lock()
	b.fault = f
	b.mu.Unlock()
}

// Stats returns a copy of the counters.
func (b *Bank) Stats() Stats {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.stats
	s.Calls = make(map[string]int, len(b.stats.Calls))
	for k, v := range b.stats.Calls {
		s.Calls[k] = v
	}
	return s
}

// Order returns a copy of an order.
func (b *Bank) Order(orderNo string) (Order, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	o, ok := b.orders[orderNo]
	if !ok {
		return Order{}, false
	}
	return *o, true
}

// Orders returns copies of all orders, sorted by order number.
func (b *Bank) Orders() []Order {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]Order, 0, len(b.orders))
	for _, o := range b.orders {
		out = append(out, *o)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].OrderNo < out[j].OrderNo })
	return out
}

// MarkPaid settles an order as paid and returns its PayToken, as the bank
// would send it in a notify.
func (b *Bank) MarkPaid(orderNo string) (string, error) { return b.settle(orderNo, wire.StatusSuccess) }

// MarkFailed settles an order as failed and returns its PayToken.
func (b *Bank) MarkFailed(orderNo string) (string, error) {
	return b.settle(orderNo, wire.StatusFailure)
}

func (b *Bank) settle(orderNo, status string) (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	o, ok := b.orders[orderNo]
	if !ok {
		return "", fmt.Errorf("fakebank: no order %q", orderNo)
	}
	if o.Status != "" && o.Status != status {
		return "", fmt.Errorf("fakebank: order %q is already %s", orderNo, o.Status)
	}
	o.Status = status
	if o.PayToken == "" {
		o.PayToken = randomString(24)
		b.tokens[o.PayToken] = orderNo
	}
	if status == wire.StatusSuccess {
		o.PayDate = time.Now().UTC().Format("200601021504")
	}
	return o.PayToken, nil
}

// Notify POSTs the bank's unsigned notify {"ShopNo","PayToken"} for a
// settled order to the BackendURL it was created with, and expects
// {"Status":"S"} back.
func (b *Bank) Notify(ctx context.Context, orderNo string) error {
	o, ok := b.Order(orderNo)
	if !ok || o.PayToken == "" {
		return fmt.Errorf("fakebank notify %s: no settled order", orderNo)
	}
	if o.BackendURL == "" {
		return fmt.Errorf("fakebank notify %s: order has no BackendURL", orderNo)
	}
	body, _ := json.Marshal(wire.Notify{ShopNo: b.keys.ShopNo, PayToken: o.PayToken})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.BackendURL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("fakebank notify %s: %w", orderNo, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := b.hc.Do(req)
	if err != nil {
		return fmt.Errorf("fakebank notify %s: %w", orderNo, err)
	}
	defer resp.Body.Close()
	var ack struct{ Status string }
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&ack); err != nil || ack.Status != wire.StatusSuccess {
		return fmt.Errorf("fakebank notify %s: merchant answered HTTP %d status %q", orderNo, resp.StatusCode, ack.Status)
	}
	return nil
}

func randomString(n int) string {
	buf := make([]byte, n)
	if _, err := rand.Read(buf); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(buf)
}

// ServeHTTP implements http.Handler.
func (b *Bank) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	if i := strings.Index(path, "/_fake/"); i >= 0 {
		b.serveAdmin(w, r, path[i+len("/_fake/"):])
		return
	}
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	b.mu.Lock()
	fault := b.fault
	b.mu.Unlock()
	switch fault {
	case FaultServerError:
		http.Error(w, "fakebank: injected server error", http.StatusInternalServerError)
		return
	case FaultHang:
		select {
		case <-r.Context().Done():
		case <-b.stop:
		}
		return
	}
	switch {
	case strings.HasSuffix(path, "/Nonce"):
		b.serveNonce(w, r)
	case strings.HasSuffix(path, "/Order"):
		b.serveOrder(w, r, fault)
	default:
		http.NotFound(w, r)
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

type failure struct {
	Status      string `json:"Status"`
	Description string `json:"Description"`
}

func (b *Bank) refuse(w http.ResponseWriter, format string, args ...any) {
	b.mu.Lock()
	b.stats.Rejected++
	b.mu.Unlock()
	writeJSON(w, http.StatusBadRequest, failure{Status: wire.StatusFailure, Description: fmt.Sprintf(format, args...)})
}

func (b *Bank) serveNonce(w http.ResponseWriter, r *http.Request) {
	var req wire.NonceRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&req); err != nil || req.ShopNo != b.keys.ShopNo {
		writeJSON(w, http.StatusBadRequest, failure{Status: wire.StatusFailure, Description: "unknown ShopNo"})
		return
	}
	n := randomString(60)
	b.mu.Lock()
	b.nonces[n] = true
	b.stats.Nonces++
	b.mu.Unlock()
	writeJSON(w, http.StatusOK, wire.NonceReply{Nonce: n})
}

func (b *Bank) serveOrder(w http.ResponseWriter, r *http.Request, fault Fault) {
	var env wire.Envelope
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&env); err != nil {
		b.refuse(w, "E0001 bad envelope: %v", err)
		return
	}
	if env.Version != wire.Version {
		b.refuse(w, "E0002 version %q", env.Version)
		return
	}
	if env.ShopNo != b.keys.ShopNo {
		b.refuse(w, "E0003 unknown shop %q", env.ShopNo)
		return
	}
	b.mu.Lock()
	fresh := b.nonces[env.Nonce]
	delete(b.nonces, env.Nonce)
	b.mu.Unlock()
	if !fresh {
		b.refuse(w, "E0004 nonce unknown or already used")
		return
	}
	msg, err := b.keys.Open(env)
	if err != nil {
		b.refuse(w, "E0005 %v", err)
		return
	}
	var reply any
	switch env.APIService {
	case wire.ServiceOrderCreate:
		reply, err = b.create(r, msg, fault)
	case wire.ServiceOrderQuery:
		reply, err = b.query(msg, fault)
	case wire.ServiceOrderPayQuery:
		reply, err = b.payQuery(msg, fault)
	case wire.ServiceOrderMaintain:
		reply, err = b.maintain(msg)
	default:
		err = fmt.Errorf("E0006 unknown APIService %q", env.APIService)
	}
	if err != nil {
		b.refuse(w, "%v", err)
		return
	}
	b.mu.Lock()
	b.stats.Calls[env.APIService]++
	b.mu.Unlock()
	out, err := b.keys.Seal(env.APIService, randomString(60), reply)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if fault == FaultBadSign {
		// Sign the message with a key the client does not hold.
		m, _ := json.Marshal(reply)
		out.Sign, _ = wire.Sign(m, out.Nonce, strings.Repeat("0", 32))
	}
	writeJSON(w, http.StatusOK, out)
}

// record is a transaction as the bank writes it: Amount is a string.
type record struct {
	TSNo        string `json:"TSNo,omitempty"`
	OrderNo     string `json:"OrderNo,omitempty"`
	ShopNo      string `json:"ShopNo,omitempty"`
	PayType     string `json:"PayType,omitempty"`
	Amount      string `json:"Amount,omitempty"`
	Status      string `json:"Status,omitempty"`
	Description string `json:"Description,omitempty"`
	PayDate     string `json:"PayDate,omitempty"`
}

var descriptions = map[string]string{
	"": "待付款", wire.StatusSuccess: "付款成功", wire.StatusFailure: "付款失敗", "C": "訂單已取消",
}

func (b *Bank) recordOf(o *Order, fault Fault) record {
	rec := record{TSNo: o.TSNo, OrderNo: o.OrderNo, ShopNo: b.keys.ShopNo, PayType: o.PayType,
		Amount: strconv.FormatInt(o.Amount, 10), Status: o.Status, Description: descriptions[o.Status], PayDate: o.PayDate}
	switch fault {
	case FaultAmount:
		rec.Amount = strconv.FormatInt(o.Amount+1, 10)
	case FaultInnerFail:
		rec.Status, rec.Description = wire.StatusFailure, descriptions[wire.StatusFailure]
	case FaultOrderMismatch:
		rec.OrderNo = o.OrderNo + "X"
	}
	return rec
}

func (b *Bank) create(r *http.Request, msg []byte, fault Fault) (any, error) {
	var req wire.OrderCreateRequest
	if err := json.Unmarshal(msg, &req); err != nil {
		return nil, fmt.Errorf("E0101 bad OrderCreate: %v", err)
	}
	fail := func(desc string) (any, error) {
		return wire.OrderCreateReply{ShopNo: b.keys.ShopNo, OrderNo: req.OrderNo, Status: wire.StatusFailure, Description: desc}, nil
	}
	if req.ShopNo != b.keys.ShopNo {
		return fail("E0102 ShopNo mismatch")
	}
	if req.CurrencyID != "TWD" {
		return fail("E0103 CurrencyID must be TWD")
	}
	if err := req.Validate(); err != nil {
		return fail("E0104 " + err.Error())
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, dup := b.orders[req.OrderNo]; dup {
		return fail("E0105 OrderNo already exists")
	}
	b.seq++
	o := &Order{OrderNo: req.OrderNo, Amount: req.Amount, PayType: req.PayType, PrdtName: req.PrdtName,
		TSNo: fmt.Sprintf("%s%08d", strings.ReplaceAll(b.keys.ShopNo, "_", ""), b.seq), BackendURL: req.BackendURL}
	rep := wire.OrderCreateReply{ShopNo: b.keys.ShopNo, OrderNo: o.OrderNo, Amount: wire.Amount(o.Amount), TSNo: o.TSNo,
		PayType: o.PayType, Status: wire.StatusSuccess, Description: "S0000 – 處理成功"}
	page := fmt.Sprintf("%s://%s/_fake/pay?order=%s", scheme, r.Host, o.OrderNo)
	switch req.PayType {
	case wire.PayTypeATM:
		if req.ATMParam == nil || len(req.ATMParam.ExpireDate) != 8 {
			b.seq--
			return fail("E0106 ATMParam.ExpireDate required (yyyyMMdd)")
		}
		o.ExpireDate = req.ATMParam.ExpireDate
		o.AtmPayNo = fmt.Sprintf("99922%09d", b.seq)
		o.PayURL = page
		rep.ATMParam = &wire.ATMResult{AtmPayNo: o.AtmPayNo, WebAtmURL: page}
	case wire.PayTypeCard:
		o.PayURL = page
		rep.CardParam = &wire.CardResult{CardPayURL: page}
	}
	b.orders[o.OrderNo] = o
	if fault == FaultAmount {
		rep.Amount++
	}
	return rep, nil
}

type queryReply struct {
	ShopNo      string   `json:"ShopNo"`
	Date        string   `json:"Date"`
	Status      string   `json:"Status"`
	Description string   `json:"Description"`
	OrderList   []record `json:"OrderList"`
}

func (b *Bank) query(msg []byte, fault Fault) (any, error) {
	var req wire.OrderQueryRequest
	if err := json.Unmarshal(msg, &req); err != nil {
		return nil, fmt.Errorf("E0201 bad OrderQuery: %v", err)
	}
	rep := queryReply{ShopNo: b.keys.ShopNo, Date: time.Now().UTC().Format("20060102150405"),
		Status: wire.StatusSuccess, Description: "S0000 – 處理成功", OrderList: []record{}}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, o := range b.orders {
		if req.OrderNo != "" && o.OrderNo != req.OrderNo {
			continue
		}
		switch req.PayFlag {
		case "Y":
			if o.Status != wire.StatusSuccess {
				continue
			}
		case "N":
			if o.Status == wire.StatusSuccess {
				continue
			}
		}
		rep.OrderList = append(rep.OrderList, b.recordOf(o, fault))
	}
	sort.Slice(rep.OrderList, func(i, j int) bool { return rep.OrderList[i].OrderNo < rep.OrderList[j].OrderNo })
	return rep, nil
}

type payQueryReply struct {
	ShopNo          string  `json:"ShopNo"`
	PayToken        string  `json:"PayToken"`
	Date            string  `json:"Date"`
	Status          string  `json:"Status"`
	Description     string  `json:"Description"`
	TSResultContent *record `json:"TSResultContent,omitempty"`
}

func (b *Bank) payQuery(msg []byte, fault Fault) (any, error) {
	var req wire.OrderPayQueryRequest
	if err := json.Unmarshal(msg, &req); err != nil {
		return nil, fmt.Errorf("E0301 bad OrderPayQuery: %v", err)
	}
	rep := payQueryReply{ShopNo: b.keys.ShopNo, PayToken: req.PayToken, Date: time.Now().UTC().Format("20060102150405")}
	b.mu.Lock()
	defer b.mu.Unlock()
	o, ok := b.orders[b.tokens[req.PayToken]]
	if !ok {
		rep.Status, rep.Description = wire.StatusFailure, "E0302 PayToken not found"
		return rep, nil
	}
	rec := b.recordOf(o, fault)
	rep.Status, rep.Description, rep.TSResultContent = wire.StatusSuccess, "S0000 – 處理成功", &rec
	return rep, nil
}

func (b *Bank) maintain(msg []byte) (any, error) {
	var req wire.OrderMaintainRequest
	if err := json.Unmarshal(msg, &req); err != nil {
		return nil, fmt.Errorf("E0401 bad OrderMaintain: %v", err)
	}
	rep := wire.OrderMaintainReply{ShopNo: b.keys.ShopNo, OrderNo: req.OrderNo, Command: req.Command}
	b.mu.Lock()
	defer b.mu.Unlock()
	o, ok := b.orders[req.OrderNo]
	switch {
	case !ok:
		rep.Status, rep.Description = wire.StatusFailure, "E0402 order not found"
	case req.Command != wire.MaintainCancel:
		rep.Status, rep.Description = wire.StatusFailure, "E0403 fakebank supports Command C only"
	case o.Status != "":
		rep.Status, rep.Description = wire.StatusFailure, "E0404 order is settled: "+o.Status
	default:
		o.Status = "C"
		rep.Status, rep.Description = wire.StatusSuccess, "S0000 – 處理成功"
	}
	return rep, nil
}

func (b *Bank) serveAdmin(w http.ResponseWriter, r *http.Request, what string) {
	q := r.URL.Query()
	switch what {
	case "orders":
		writeJSON(w, http.StatusOK, b.Orders())
		return
	case "pay":
		if r.Method == http.MethodGet {
			// The "bank's payment page" a PayURL points at, for demos.
			o, ok := b.Order(q.Get("order"))
			if !ok {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprintf(w, `<!doctype html><title>fakebank</title><p>Order %s, %s, TWD %d.%02d, status %q</p>
<form method="post"><input type="hidden" name="order" value="%s"><button>Pay</button></form>`,
				html.EscapeString(o.OrderNo), html.EscapeString(o.PrdtName), o.Amount/100, o.Amount%100, o.Status, html.EscapeString(o.OrderNo))
			return
		}
	}
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	switch what {
	case "pay", "fail":
		settle := b.MarkPaid
		if what == "fail" {
			settle = b.MarkFailed
		}
		order := q.Get("order")
		if order == "" {
			order = r.PostFormValue("order")
		}
		tok, err := settle(order)
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		if q.Get("notify") == "1" {
			if err := b.Notify(r.Context(), order); err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
		}
		writeJSON(w, http.StatusOK, map[string]string{"PayToken": tok})
	case "fault":
		f, err := ParseFault(q.Get("f"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		b.SetFault(f)
		writeJSON(w, http.StatusOK, map[string]string{"fault": q.Get("f")})
	default:
		http.NotFound(w, r)
	}
}
