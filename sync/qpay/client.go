// Package qpay is storebox's client for the SinoPac QPay (funBIZ) payment
// API: it creates ATM (virtual account) and card orders and learns their
// outcome by querying the bank, since the store sits behind NAT and never
// receives the bank's notify itself.
//
// Every call fetches a fresh single-use nonce (POST {base}/Nonce), then
// POSTs the sealed envelope to {base}/Order and opens the reply: it is
// decrypted with the reply's own nonce and its Sign verified before any
// field is read (see protocol/qpay for the wire format).
//
// The API:
//
//	c, err := qpay.New(qpay.Config{...})           // daemon/payments.NewQPayClient maps the config
//	res, err := c.CreateOrder(ctx, qpay.CreateRequest{...})
//	tx, err := c.QueryOrder(ctx, orderNo)         // the store's normal path
//	tx, err := c.QueryPayToken(ctx, payToken)     // a notify relayed by the cloud
//	paid := tx.PaidFor(orderNo, amount)           // the only test for "paid"
//	tx, err := c.WaitPaid(ctx, orderNo, amount)   // poll QueryOrder until final
//
// Errors sort into four kinds; use errors.Is / errors.As:
//   - ErrUnavailable: network error, timeout, HTTP 5xx or 429. Retry later.
//     It never wraps context.DeadlineExceeded from the transport, so a
//     supervisor cannot mistake a slow bank for its own shutdown; when the
//     caller's own ctx ends, ctx.Err() is returned (wrapped) instead.
//   - ErrUntrusted: the reply failed decryption or Sign verification, is
//     for another shop or service, or is malformed. Nothing was learnt;
//     never act on it. errors.Is(err, protocol/qpay.ErrBadSign) tells a
//     sign mismatch apart.
//   - *BankError (errors.Is(err, ErrRejected)): the bank answered, signed,
//     with Status F (or an HTTP 4xx). Not retryable as is.
//   - ErrInvalid: the request broke the bank's rules (OrderNo ≤ 50 without
//     ' " %, PrdtName ≤ 60, positive amount, pay type A or C); nothing sent.
//
// An ErrUnavailable from CreateOrder is ambiguous: the order may exist at
// the bank. Keep the OrderNo (it is the idempotency key; never mint a new
// one per retry) and QueryOrder it before doing anything else.
//
// Paid is final: a Transaction only says what the bank reports now;
// PaidFor is true only when the transaction status is S and both the order
// number and the amount match the local order. The outer Status of a
// query reply only says the query worked.
package qpay

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	wire "github.com/storebox/storebox/protocol/qpay"
)

// Error kinds; see the package comment.
var (
	ErrUnavailable = errors.New("qpay: provider unavailable")
	ErrUntrusted   = errors.New("qpay: reply not trusted")
	ErrRejected    = errors.New("qpay: rejected by provider")
	ErrInvalid     = errors.New("qpay: invalid request")
)

// BankError is a signed reply whose Status is not S, or an HTTP 4xx.
type BankError struct {
	Service     string
	Status      string // the bank's Status, or "HTTP 4xx"
	Description string
}

func (e *BankError) Error() string {
	return fmt.Sprintf("qpay %s: bank said %s: %s", e.Service, e.Status, e.Description)
}

// Is makes errors.Is(err, ErrRejected) true for a BankError.
func (e *BankError) Is(target error) bool { return target == ErrRejected }

// Retryable reports whether err is worth retrying later unchanged.
func Retryable(err error) bool { return errors.Is(err, ErrUnavailable) }

// Default timings.
const (
	DefaultTimeout      = 15 * time.Second
	DefaultPollInterval = 2 * time.Second
	DefaultPollMax      = 30 * time.Second
	maxReplyBytes       = 1 << 20
)

// Config configures a Client.
type Config struct {
	BaseURL    string // e.g. https://apisbx.sinopac.com/funBIZ/QPay.WebAPI/api
	ShopNo     string
	A1, A2     string
	B1, B2     string
	ReturnURL  string // sent with OrderCreate when set
	BackendURL string // sent with OrderCreate when set (reaches the cloud)

	PollInterval time.Duration // WaitPaid; default 2s
	PollMax      time.Duration // WaitPaid; default 30s

	HTTPClient *http.Client // default: a client with DefaultTimeout
	Logger     *slog.Logger // default: discard
	// Now is the clock for default ATM expiry dates; default time.Now.
	Now func() time.Time
}

// Client talks to QPay. It is safe for concurrent use.
type Client struct {
	base string
	keys wire.Keys
	cfg  Config
	hc   *http.Client
	log  *slog.Logger
	now  func() time.Time
}

// New checks cfg and returns a Client.
func New(cfg Config) (*Client, error) {
	keys, err := wire.NewKeys(cfg.ShopNo, cfg.A1, cfg.A2, cfg.B1, cfg.B2)
	if err != nil {
		return nil, fmt.Errorf("qpay client: %w", err)
	}
	base := strings.TrimRight(cfg.BaseURL, "/")
	if !strings.HasPrefix(base, "http://") && !strings.HasPrefix(base, "https://") {
		return nil, fmt.Errorf("qpay client: base URL %q must start with http:// or https://", cfg.BaseURL)
	}
	c := &Client{base: base, keys: keys, cfg: cfg, hc: cfg.HTTPClient, log: cfg.Logger, now: cfg.Now}
	if c.hc == nil {
		c.hc = &http.Client{Timeout: DefaultTimeout}
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.cfg.PollInterval <= 0 {
		c.cfg.PollInterval = DefaultPollInterval
	}
	if c.cfg.PollMax <= 0 {
		c.cfg.PollMax = DefaultPollMax
	}
	return c, nil
}

// CreateRequest is a new ATM or card order.
type CreateRequest struct {
	OrderNo        string // ≤ 50 characters, none of ' " %; the idempotency key
	Amount         int64  // minor units, TWD×100
	PayType        string // "A" ATM | "C" card
	ProductName    string // ≤ 60 characters
	ATMExpireDate  string // yyyyMMdd; default: tomorrow, Taiwan time
	CardExpMinutes int    // default: the bank's (10)
	Memo           string // optional
}

// CreateResult is the bank's answer to a successful OrderCreate.
type CreateResult struct {
	TSNo        string
	Status      string
	Description string
	PayURL      string // CardPayURL (card) or WebAtmURL (ATM)
	AtmPayNo    string // the virtual account to pay into (ATM)
}

var taipei = time.FixedZone("Asia/Taipei", 8*3600)

// ATMExpireDateAfter is the default ATM expiry date at now: tomorrow,
// Taiwan time (yyyyMMdd).
func ATMExpireDateAfter(now time.Time) string {
	return now.In(taipei).AddDate(0, 0, 1).Format("20060102")
}

// CreateOrder creates an order at the bank.
func (c *Client) CreateOrder(ctx context.Context, r CreateRequest) (CreateResult, error) {
	req := wire.OrderCreateRequest{
		ShopNo: c.keys.ShopNo, OrderNo: r.OrderNo, Amount: r.Amount, CurrencyID: "TWD",
		PayType: r.PayType, PrdtName: r.ProductName,
		ReturnURL: c.cfg.ReturnURL, BackendURL: c.cfg.BackendURL, Memo: r.Memo,
	}
	switch r.PayType {
	case wire.PayTypeATM:
		exp := r.ATMExpireDate
		if exp == "" {
			exp = ATMExpireDateAfter(c.now())
		}
		if _, err := time.Parse("20060102", exp); err != nil {
			return CreateResult{}, fmt.Errorf("%w: ATM expire date %q is not yyyyMMdd", ErrInvalid, exp)
		}
		req.ATMParam = &wire.ATMParam{ExpireDate: exp}
	case wire.PayTypeCard:
		if r.CardExpMinutes < 0 {
			return CreateResult{}, fmt.Errorf("%w: card expiry %d minutes", ErrInvalid, r.CardExpMinutes)
		}
		req.CardParam = &wire.CardParam{AutoBilling: "Y", ExpMinutes: r.CardExpMinutes}
	}
	if err := req.Validate(); err != nil {
		return CreateResult{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	var rep wire.OrderCreateReply
	if err := c.call(ctx, wire.ServiceOrderCreate, req, &rep); err != nil {
		return CreateResult{}, err
	}
	if rep.Status != wire.StatusSuccess {
		return CreateResult{}, &BankError{Service: wire.ServiceOrderCreate, Status: rep.Status, Description: rep.Description}
	}
	if (rep.OrderNo != "" && rep.OrderNo != r.OrderNo) || (rep.Amount != 0 && int64(rep.Amount) != r.Amount) {
		return CreateResult{}, fmt.Errorf("qpay OrderCreate %s: %w: reply is for order %q amount %d, asked %d",
			r.OrderNo, ErrUntrusted, rep.OrderNo, rep.Amount, r.Amount)
	}
	res := CreateResult{TSNo: rep.TSNo, Status: rep.Status, Description: rep.Description}
	if rep.ATMParam != nil {
		res.PayURL, res.AtmPayNo = rep.ATMParam.WebAtmURL, rep.ATMParam.AtmPayNo
	}
	if rep.CardParam != nil && rep.CardParam.CardPayURL != "" {
		res.PayURL = rep.CardParam.CardPayURL
	}
	if res.PayURL == "" && res.AtmPayNo == "" {
		return CreateResult{}, fmt.Errorf("qpay OrderCreate %s: %w: reply has neither pay URL nor ATM account", r.OrderNo, ErrUntrusted)
	}
	return res, nil
}

// Transaction is what the bank reports about one order's payment.
type Transaction struct {
	Found       bool // false: the bank knows no such order (or token)
	OrderNo     string
	Amount      int64  // minor units, parsed strictly from the bank's string
	Status      string // the transaction's own status (S paid, F failed, …)
	TSNo        string
	PayType     string
	Description string
	PayDate     string
}

// PaidFor reports whether t proves that orderNo was paid for amount: the
// transaction status is S and the order number and amount both match.
func (t Transaction) PaidFor(orderNo string, amount int64) bool {
	return t.Found && orderNo != "" && t.Status == wire.StatusSuccess && t.OrderNo == orderNo && t.Amount == amount
}

// FailedFor reports whether t says the payment of orderNo failed.
func (t Transaction) FailedFor(orderNo string) bool {
	return t.Found && orderNo != "" && t.Status == wire.StatusFailure && t.OrderNo == orderNo
}

func txFrom(r wire.OrderRecord) Transaction {
	return Transaction{Found: true, OrderNo: r.OrderNo, Amount: int64(r.Amount), Status: r.Status,
		TSNo: r.TSNo, PayType: r.PayType, Description: r.Description, PayDate: r.PayDate}
}

// QueryOrder asks the bank about orderNo (OrderQuery, PayFlag A). A reply
// that lists no such order gives Found false.
func (c *Client) QueryOrder(ctx context.Context, orderNo string) (Transaction, error) {
	if err := wire.ValidateOrderNo(orderNo); err != nil {
		return Transaction{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	req := wire.OrderQueryRequest{ShopNo: c.keys.ShopNo, OrderNo: orderNo, PayFlag: "A"}
	var rep wire.OrderQueryReply
	if err := c.call(ctx, wire.ServiceOrderQuery, req, &rep); err != nil {
		return Transaction{}, err
	}
	if rep.Status != wire.StatusSuccess {
		return Transaction{}, &BankError{Service: wire.ServiceOrderQuery, Status: rep.Status, Description: rep.Description}
	}
	// The bank may list more than one record for an order number (a failed
	// attempt and a later success); a success wins.
	var found *wire.OrderRecord
	for i := range rep.OrderList {
		r := &rep.OrderList[i]
		if r.OrderNo != orderNo {
			continue
		}
		if found == nil || r.Status == wire.StatusSuccess {
			found = r
		}
	}
	if found == nil {
		return Transaction{OrderNo: orderNo}, nil
	}
	return txFrom(*found), nil
}

// QueryPayToken asks the bank about the PayToken of a notify
// (OrderPayQuery). The caller matches the result against its own order
// with PaidFor; a notify itself proves nothing.
func (c *Client) QueryPayToken(ctx context.Context, payToken string) (Transaction, error) {
	if payToken == "" || len(payToken) > 200 {
		return Transaction{}, fmt.Errorf("%w: pay token is empty or too long", ErrInvalid)
	}
	req := wire.OrderPayQueryRequest{ShopNo: c.keys.ShopNo, PayToken: payToken}
	var rep wire.OrderPayQueryReply
	if err := c.call(ctx, wire.ServiceOrderPayQuery, req, &rep); err != nil {
		return Transaction{}, err
	}
	if rep.Status != wire.StatusSuccess {
		return Transaction{}, &BankError{Service: wire.ServiceOrderPayQuery, Status: rep.Status, Description: rep.Description}
	}
	if rep.TSResultContent == nil || rep.TSResultContent.OrderNo == "" {
		return Transaction{}, nil
	}
	return txFrom(*rep.TSResultContent), nil
}

// WaitPaid polls QueryOrder every PollInterval until the order is paid
// (PaidFor) or failed (FailedFor), PollMax has passed, or ctx ends. It
// returns the last Transaction seen; err is nil when the order reached a
// final state, wraps ErrUnavailable when PollMax passed first, and wraps
// ctx.Err() when ctx ended.
// Transient errors do not stop the polling; ErrUntrusted does not either
// (nothing was learnt), but a BankError or ErrInvalid does.
func (c *Client) WaitPaid(ctx context.Context, orderNo string, amount int64) (Transaction, error) {
	pollCtx, cancel := context.WithTimeout(ctx, c.cfg.PollMax)
	defer cancel()
	t := time.NewTicker(c.cfg.PollInterval)
	defer t.Stop()
	var last Transaction
	var lastErr error
	for {
		tx, err := c.QueryOrder(pollCtx, orderNo)
		switch {
		case err == nil:
			last, lastErr = tx, nil
			if tx.PaidFor(orderNo, amount) || tx.FailedFor(orderNo) {
				return tx, nil
			}
		case errors.Is(err, ErrRejected), errors.Is(err, ErrInvalid):
			return last, err
		case pollCtx.Err() == nil:
			lastErr = err
		}
		select {
		case <-pollCtx.Done():
		case <-t.C:
			continue
		}
		if ctx.Err() != nil {
			return last, fmt.Errorf("qpay wait %s: %w", orderNo, ctx.Err())
		}
		if lastErr != nil {
			return last, fmt.Errorf("qpay wait %s: %w: not final after %s, last error: %w", orderNo, ErrUnavailable, c.cfg.PollMax, lastErr)
		}
		return last, fmt.Errorf("qpay wait %s: %w: not final after %s", orderNo, ErrUnavailable, c.cfg.PollMax)
	}
}

// call runs one service call: fresh nonce, sealed request, opened reply.
func (c *Client) call(ctx context.Context, service string, req, reply any) (err error) {
	start := time.Now()
	defer func() {
		c.log.Debug("qpay call", "service", service, "took", time.Since(start), "err", err)
	}()
	nonce, err := c.nonce(ctx)
	if err != nil {
		return fmt.Errorf("qpay %s: %w", service, err)
	}
	env, err := c.keys.Seal(service, nonce, req)
	if err != nil {
		return fmt.Errorf("qpay %s: %w: %v", service, ErrInvalid, err)
	}
	var renv struct {
		wire.Envelope
		// An error the bank reports outside an envelope is unsigned: shown
		// for diagnosis only.
		Status      string `json:"Status"`
		Description string `json:"Description"`
	}
	if err := c.post(ctx, service, "/Order", env, &renv); err != nil {
		return fmt.Errorf("qpay %s: %w", service, err)
	}
	if renv.Message == "" {
		return fmt.Errorf("qpay %s: %w: reply has no Message (unsigned status %q: %q)", service, ErrUntrusted, renv.Status, snippet([]byte(renv.Description)))
	}
	if renv.APIService != "" && renv.APIService != service {
		return fmt.Errorf("qpay %s: %w: reply is for service %q", service, ErrUntrusted, renv.APIService)
	}
	if err := c.keys.OpenInto(renv.Envelope, reply); err != nil {
		return fmt.Errorf("qpay %s: %w: %w", service, ErrUntrusted, err)
	}
	return nil
}

func (c *Client) nonce(ctx context.Context) (string, error) {
	var rep wire.NonceReply
	if err := c.post(ctx, "Nonce", "/Nonce", wire.NonceRequest{ShopNo: c.keys.ShopNo}, &rep); err != nil {
		return "", fmt.Errorf("get nonce: %w", err)
	}
	if rep.Nonce == "" || len(rep.Nonce) > 1024 {
		return "", fmt.Errorf("get nonce: %w: bank returned no usable nonce", ErrUnavailable)
	}
	return rep.Nonce, nil
}

// post sends body as JSON and decodes a 200 reply into out, classifying
// failures into ErrUnavailable, BankError and ErrUntrusted.
func (c *Client) post(ctx context.Context, service, path string, body, out any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	hreq.Header.Set("Content-Type", "application/json")
	hreq.Header.Set("Accept", "application/json")
	resp, err := c.hc.Do(hreq)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("POST %s: %w", path, ctx.Err())
		}
		// Deliberately not %w: a transport timeout must not read as
		// context.DeadlineExceeded upstream.
		return fmt.Errorf("POST %s: %w: %v", path, ErrUnavailable, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxReplyBytes+1))
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("POST %s: %w", path, ctx.Err())
		}
		return fmt.Errorf("POST %s: %w: reading reply: %v", path, ErrUnavailable, err)
	}
	switch {
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
		return fmt.Errorf("POST %s: %w: HTTP %d", path, ErrUnavailable, resp.StatusCode)
	case resp.StatusCode != http.StatusOK:
		return &BankError{Service: service, Status: fmt.Sprintf("HTTP %d", resp.StatusCode), Description: snippet(data)}
	}
	if len(data) > maxReplyBytes {
		return fmt.Errorf("POST %s: %w: reply larger than %d bytes", path, ErrUntrusted, maxReplyBytes)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("POST %s: %w: reply is not the expected JSON: %v", path, ErrUntrusted, err)
	}
	return nil
}

func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
