// Package upstream is the daemon's signed HTTP client for the cloud (UPSTREAM.md §2–5):
// ledger events, the catalog feed and store credit.
//
// Every request carries X-Storebox-Store and X-Storebox-Signature. The
// signature covers the uncompressed request body (the JSON a human can read
// in a log), even when the body travels gzip-compressed: the cloud
// decompresses first and verifies the JSON. A request without a body (GET)
// signs its path and query, e.g. "/v1/stores/s1/catalog?limit=100&since=v7".
//
// Errors are classified so callers can decide what to do:
//   - ErrInsufficientCredit: 402 from the credit endpoints.
//   - ErrUnreachable (test with errors.Is or IsRetryable): network errors,
//     timeouts, 5xx, 429, and 401/403 (a wrong secret or a skewed clock is a
//     configuration problem, not a property of the request, so the request
//     is worth retrying once it is fixed); for PostEvents also 404 (a wrong
//     URL or store id must not dead-letter the whole queue).
//     RetryAfter(err) reports a Retry-After the cloud sent.
//   - *RejectedError: any other 4xx. The request itself is bad; resending it
//     unchanged will not help.
//
// A cancelled caller context is returned as is (errors.Is(err,
// context.Canceled)), never as ErrUnreachable.
package upstream

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/storebox/storebox/protocol/goods"
	"github.com/storebox/storebox/protocol/ledger"
)

// DefaultTimeout bounds one request when Client.Timeout is zero (UPSTREAM.md §1, upstream.timeout).
const DefaultTimeout = 10 * time.Second

// maxResponse bounds how much of a reply is read; a catalog page is the largest.
const maxResponse = 32 << 20

// Client talks to one cloud for one store. The zero Timeout means
// DefaultTimeout; a nil HTTP means a client with no overall timeout of its own
// (each request is bounded by Timeout through its context).
type Client struct {
	BaseURL string // e.g. "https://cloud.example.com"; a path prefix is kept
	StoreID string
	Secret  string
	Timeout time.Duration
	HTTP    *http.Client
	// Gzip compresses event batches (Content-Encoding: gzip). New sets it.
	Gzip bool
	// Now is this box's clock; nil means time.Now. Signatures use it, or
	// the cloud's time when the two disagree (Clock).
	Now func() time.Time

	clock cloudClock
}

// Clock is what the client knows about this box's clock against the
// cloud's.
func (c *Client) Clock() ClockState { return c.clock.state() }

// CloudNow is the cloud's time as well as this box knows it: its own
// clock, corrected once the cloud's Date showed it off (Clock). Checks of
// the cloud's signatures use it.
func (c *Client) CloudNow() time.Time { return c.clock.signingTime(c.now()) }

// New returns a client with gzip on and a dedicated transport.
func New(baseURL, storeID, secret string, timeout time.Duration) *Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 4
	return &Client{
		BaseURL: strings.TrimRight(baseURL, "/"),
		StoreID: storeID,
		Secret:  secret,
		Timeout: timeout,
		HTTP:    &http.Client{Transport: tr},
		Gzip:    true,
	}
}

// ErrUnreachable marks errors worth retrying later: the cloud could not be
// reached, did not answer in time, failed (5xx), throttled (429) or refused
// the signature (401/403).
var ErrUnreachable = errors.New("cloud unreachable")

// ErrInsufficientCredit is the cloud's 402 on authorize.
var ErrInsufficientCredit = errors.New("insufficient credit")

// RetryableError is a failure worth retrying; it matches ErrUnreachable.
type RetryableError struct {
	Op         string
	Status     int           // 0 for network errors and timeouts
	RetryAfter time.Duration // from the Retry-After header, 0 if none
	Err        error
}

func (e *RetryableError) Error() string {
	var b strings.Builder
	b.WriteString(e.Op)
	if e.SignatureRejected() {
		// The cloud answered: calling it unreachable sends the technician
		// to the network when the fix is in the config file.
		fmt.Fprintf(&b, ": rejected signature (HTTP %d", e.Status)
		if e.Err != nil && e.Err.Error() != "" {
			fmt.Fprintf(&b, ": %s", e.Err)
		}
		b.WriteString("): check upstream.secret and the clock")
		return b.String()
	}
	b.WriteString(": cloud unreachable")
	if e.Status != 0 {
		fmt.Fprintf(&b, ": HTTP %d", e.Status)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
	}
	return b.String()
}

func (e *RetryableError) Unwrap() []error { return []error{ErrUnreachable, e.Err} }

// SignatureRejected reports a 401 or 403: the cloud is reachable but does not
// accept this store's signature (a wrong upstream.secret or store_id, or a
// clock more than five minutes off).
func (e *RetryableError) SignatureRejected() bool {
	return e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden
}

// IsSignatureRejected reports whether err is a RetryableError for a 401/403.
func IsSignatureRejected(err error) bool {
	var r *RetryableError
	return errors.As(err, &r) && r.SignatureRejected()
}

// RejectedError is a 4xx other than 401, 402, 403, 408 and 429: the cloud
// refuses this request and will refuse it again.
type RejectedError struct {
	Op     string
	Status int
	Body   string
}

func (e *RejectedError) Error() string {
	return fmt.Sprintf("%s: cloud rejected the request: HTTP %d: %s", e.Op, e.Status, e.Body)
}

// IsRetryable reports whether err is worth retrying later.
func IsRetryable(err error) bool { return errors.Is(err, ErrUnreachable) }

// RetryAfter returns the delay the cloud asked for, if any.
func RetryAfter(err error) (time.Duration, bool) {
	var r *RetryableError
	if errors.As(err, &r) && r.RetryAfter > 0 {
		return r.RetryAfter, true
	}
	return 0, false
}

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Client) timeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return DefaultTimeout
}

func (c *Client) httpClient() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return http.DefaultClient
}

// response is a finished exchange: status, headers and the (bounded) body.
type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends one signed request. body is the uncompressed payload (nil for GET).
// Only event batches are compressed (gzipOK): UPSTREAM.md §3 allows gzip there.
func (c *Client) do(parent context.Context, op, method, pathAndQuery string, body []byte, hdr http.Header, gzipOK bool) (*response, error) {
	return c.doLimit(parent, op, method, pathAndQuery, body, hdr, gzipOK, maxResponse)
}

// ErrTooLarge is a reply over the limit its request allows; it is not
// read whole.
var ErrTooLarge = errors.New("reply too large")

// doLimit is do with a bound on the reply body: a longer reply is a
// RetryableError wrapping ErrTooLarge, after reading at most limit+1 bytes
// (a later reply may be smaller; a caller that treats it as a refusal checks
// errors.Is(err, ErrTooLarge) first).
func (c *Client) doLimit(parent context.Context, op, method, pathAndQuery string, body []byte, hdr http.Header, gzipOK bool, limit int64) (*response, error) {
	r, applied, err := c.doOnce(parent, op, method, pathAndQuery, body, hdr, gzipOK, limit)
	if IsSignatureRejected(err) {
		if stale(r) {
			c.clock.refusedStale()
		}
		if st := c.clock.state(); st.Corrected && st.Offset != applied {
			// Signed with a time the cloud does not take: sign with its
			// time, as its Date says, and try once more (docs/UPSTREAM.md §2).
			r, _, err = c.doOnce(parent, op, method, pathAndQuery, body, hdr, gzipOK, limit)
		}
	}
	return r, err
}

// stale reports whether a refused signature was refused for its time: the
// cloud says so, or its Date is further from ours than signatures may be.
func stale(r *response) bool {
	if r == nil {
		return false
	}
	b := strings.ToLower(string(r.body))
	return strings.Contains(b, "stale") || strings.Contains(b, "timestamp") || strings.Contains(b, "skew") || strings.Contains(b, "expired")
}

// doOnce makes one attempt; it also returns the clock correction its
// signature applied.
func (c *Client) doOnce(parent context.Context, op, method, pathAndQuery string, body []byte, hdr http.Header, gzipOK bool, limit int64) (_ *response, applied time.Duration, _ error) {
	ctx, cancel := context.WithTimeout(parent, c.timeout())
	defer cancel()

	wire := body
	gz := false
	if gzipOK && c.Gzip && len(body) > 1024 {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
		zw.Write(body)
		zw.Close()
		wire, gz = buf.Bytes(), true
	}

	var rd io.Reader
	if wire != nil {
		rd = bytes.NewReader(wire)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.BaseURL+pathAndQuery, rd)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: build request: %w", op, err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	// Sign what the server sees as the request target: a base URL with a
	// path prefix is part of it.
	signedTarget := req.URL.RequestURI()
	req.Header.Set(ledger.HeaderStore, c.StoreID)
	sent := c.now()
	signAt := c.clock.signingTime(sent)
	applied = sent.Sub(signAt)
	req.Header.Set(ledger.HeaderSignature, ledger.Sign(c.Secret, signAt, ledger.SignedPayload(body, signedTarget)))
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if gz {
		req.Header.Set("Content-Encoding", "gzip")
	}
	req.Header.Set("User-Agent", "storebox")

	resp, err := c.httpClient().Do(req)
	if err != nil {
		if pe := parent.Err(); pe != nil {
			return nil, applied, fmt.Errorf("%s: %w", op, pe)
		}
		return nil, applied, &RetryableError{Op: op, Err: err}
	}
	defer resp.Body.Close()
	c.clock.observe(resp.Header.Get("Date"), sent, c.now())
	if resp.ContentLength > limit {
		return nil, applied, &RetryableError{Op: op, Status: resp.StatusCode, Err: fmt.Errorf("%w: Content-Length %d over the %d-byte limit", ErrTooLarge, resp.ContentLength, limit)}
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if int64(len(b)) > limit {
		return nil, applied, &RetryableError{Op: op, Status: resp.StatusCode, Err: fmt.Errorf("%w: over the %d-byte limit", ErrTooLarge, limit)}
	}
	if err != nil {
		if pe := parent.Err(); pe != nil {
			return nil, applied, fmt.Errorf("%s: %w", op, pe)
		}
		return nil, applied, &RetryableError{Op: op, Status: resp.StatusCode, Err: fmt.Errorf("read reply: %w", err)}
	}
	r := &response{status: resp.StatusCode, header: resp.Header, body: b}
	// A Retry-After date is on the cloud's clock: measure it from the
	// reply's own Date, else from the cloud's time as this box knows it.
	ref := c.CloudNow()
	if d, err := http.ParseTime(resp.Header.Get("Date")); err == nil {
		ref = d
	}
	if err := classify(op, r, ref); err != nil {
		return r, applied, err
	}
	return r, applied, nil
}

func classify(op string, r *response, now time.Time) error {
	switch {
	case r.status >= 200 && r.status < 300, r.status == http.StatusNotModified:
		return nil
	case r.status == http.StatusPaymentRequired:
		return fmt.Errorf("%s: %w", op, ErrInsufficientCredit)
	case r.status >= 500, r.status == http.StatusTooManyRequests, r.status == http.StatusRequestTimeout,
		r.status == http.StatusUnauthorized, r.status == http.StatusForbidden:
		return &RetryableError{Op: op, Status: r.status, RetryAfter: parseRetryAfter(r.header.Get("Retry-After"), now), Err: errors.New(snippet(r.body))}
	default:
		return &RejectedError{Op: op, Status: r.status, Body: snippet(r.body)}
	}
}

// parseRetryAfter accepts delay-seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		if n > 86400 {
			n = 86400
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return min(d, 24*time.Hour)
		}
	}
	return 0
}

func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

func (c *Client) storePath(suffix string) string {
	return "/v1/stores/" + url.PathEscape(c.StoreID) + suffix
}

// PostEvents sends one batch (gzip-compressed when large) with its batch id
// as Idempotency-Key and returns the cloud's acknowledgement.
func (c *Client) PostEvents(ctx context.Context, b ledger.Batch) (ledger.Ack, error) {
	const op = "post events"
	body, err := json.Marshal(b)
	if err != nil {
		return ledger.Ack{}, fmt.Errorf("%s: encode batch: %w", op, err)
	}
	hdr := http.Header{}
	hdr.Set(ledger.HeaderIdemKey, b.BatchID)
	r, err := c.do(ctx, op, http.MethodPost, c.storePath("/events"), body, hdr, true)
	var rej *RejectedError
	if errors.As(err, &rej) && rej.Status == http.StatusNotFound {
		// No such endpoint or store: a wrong upstream.url or store_id, not
		// bad events. Dead-lettering the queue over a typo would be worse
		// than waiting for the fix.
		return ledger.Ack{}, &RetryableError{Op: op, Status: rej.Status, Err: fmt.Errorf("%s (check upstream.url and store_id)", rej.Body)}
	}
	if err != nil {
		return ledger.Ack{}, err
	}
	var ack ledger.Ack
	if err := json.Unmarshal(r.body, &ack); err != nil {
		// A 200 we cannot read is the cloud's fault; the batch is resent.
		return ledger.Ack{}, &RetryableError{Op: op, Status: r.status, Err: fmt.Errorf("decode ack %q: %w", snippet(r.body), err)}
	}
	return ack, nil
}

// LastSeq asks the cloud for the highest ledger seq it holds for the store
// (docs/UPSTREAM.md §3, 0 when none): a new or restored data directory numbers its
// unsent events above it.
func (c *Client) LastSeq(ctx context.Context) (uint64, error) {
	const op = "events last"
	r, err := c.do(ctx, op, http.MethodGet, c.storePath("/events/last"), nil, http.Header{}, false)
	var rej *RejectedError
	if errors.As(err, &rej) && rej.Status == http.StatusNotFound {
		// A cloud without the endpoint, a wrong URL or store id: the
		// numbering cannot be checked, so nothing is uploaded until it is.
		return 0, &RetryableError{Op: op, Status: rej.Status, Err: fmt.Errorf("%s (check upstream.url and store_id; the cloud must serve GET /v1/stores/<s>/events/last)", rej.Body)}
	}
	if err != nil {
		return 0, err
	}
	var out struct {
		LastSeq *uint64 `json:"last_seq"`
	}
	if err := json.Unmarshal(r.body, &out); err != nil || out.LastSeq == nil {
		return 0, &RetryableError{Op: op, Status: r.status, Err: fmt.Errorf("no last_seq in %q", snippet(r.body))}
	}
	return *out.LastSeq, nil
}

// Page is one page of the catalog feed.
type Page struct {
	Cursor  string        `json:"cursor"`
	Items   []goods.Goods `json:"items"`
	Deleted []string      `json:"deleted"`
	More    bool          `json:"more"`
}

// Catalog fetches the changes after cursor since ("" = from the start).
func (c *Client) Catalog(ctx context.Context, since string, limit int) (Page, error) {
	const op = "catalog"
	q := url.Values{}
	q.Set("since", since)
	q.Set("limit", strconv.Itoa(limit))
	r, err := c.do(ctx, op, http.MethodGet, c.storePath("/catalog")+"?"+q.Encode(), nil, http.Header{}, false)
	if err != nil {
		return Page{}, err
	}
	var p Page
	if err := json.Unmarshal(r.body, &p); err != nil {
		return Page{}, &RetryableError{Op: op, Status: r.status, Err: fmt.Errorf("decode page: %w", err)}
	}
	if p.More && p.Cursor == since && len(p.Items) == 0 && len(p.Deleted) == 0 {
		return Page{}, &RetryableError{Op: op, Status: r.status, Err: errors.New("cloud says more but the cursor did not move")}
	}
	return p, nil
}

// PingResult is what the doctor shows about the cloud.
type PingResult struct {
	RTT time.Duration
	// Skew is the cloud's clock minus ours (from its Date header, ±1 s);
	// signatures fail beyond ±5 min.
	Skew    time.Duration
	HasDate bool
}

// Ping makes a signed, harmless request (an empty catalog page) and reports
// round-trip time and clock skew. A wrong secret shows as an error naming
// HTTP 401.
func (c *Client) Ping(ctx context.Context) (PingResult, error) {
	const op = "ping"
	start := c.now()
	r, err := c.do(ctx, op, http.MethodGet, c.storePath("/catalog")+"?limit=0", nil, http.Header{}, false)
	end := c.now()
	if err != nil {
		return PingResult{}, err
	}
	res := PingResult{RTT: end.Sub(start)}
	if d, err := http.ParseTime(r.header.Get("Date")); err == nil {
		mid := start.Add(end.Sub(start) / 2)
		res.Skew = d.Sub(mid.Truncate(time.Second))
		res.HasDate = true
	}
	return res, nil
}

// PutHealth sends a fleet health snapshot (UPSTREAM.md §7): PUT
// /v1/stores/<s>/health, signed like every request.
func (c *Client) PutHealth(ctx context.Context, body []byte) error {
	_, err := c.do(ctx, "put health", http.MethodPut, c.storePath("/health"), body, http.Header{}, false)
	return err
}

// ConfigReply is the cloud's answer to a desired-configuration request.
type ConfigReply struct {
	NotModified bool   // 304: the applied version is current
	Body        []byte // the 200 body, unverified
	Signature   string // its X-Storebox-Signature header ("" when unsigned)
}

// DesiredConfig asks for the store's desired configuration (UPSTREAM.md §7) with
// If-None-Match set to etag (none when empty). A body over limit bytes is
// an error wrapping ErrTooLarge. The caller verifies the signature.
func (c *Client) DesiredConfig(ctx context.Context, etag string, limit int64) (ConfigReply, error) {
	hdr := http.Header{}
	if etag != "" {
		hdr.Set("If-None-Match", etag)
	}
	r, err := c.doLimit(ctx, "desired config", http.MethodGet, c.storePath("/config"), nil, hdr, false, limit)
	if err != nil {
		return ConfigReply{}, err
	}
	if r.status == http.StatusNotModified {
		return ConfigReply{NotModified: true}, nil
	}
	return ConfigReply{Body: r.body, Signature: r.header.Get(ledger.HeaderSignature)}, nil
}

type authorizeReq struct {
	AccountToken string `json:"account_token"`
	Amount       int64  `json:"amount"`
	OrderID      string `json:"order_id"`
	TTLs         int64  `json:"ttl_s"`
}

// Authorize reserves amount on the account for orderID; the hold lapses
// after ttl unless captured or cancelled.
func (c *Client) Authorize(ctx context.Context, accountToken string, amount int64, orderID string, ttl time.Duration) (string, error) {
	const op = "credit authorize"
	body, _ := json.Marshal(authorizeReq{AccountToken: accountToken, Amount: amount, OrderID: orderID, TTLs: int64((ttl + time.Second - 1) / time.Second)})
	r, err := c.do(ctx, op, http.MethodPost, "/v1/credits/authorize", body, http.Header{}, false)
	if err != nil {
		return "", err
	}
	var out struct {
		TransactionToken string `json:"transaction_token"`
	}
	if err := json.Unmarshal(r.body, &out); err != nil || out.TransactionToken == "" {
		return "", &RetryableError{Op: op, Status: r.status, Err: fmt.Errorf("no transaction_token in %q", snippet(r.body))}
	}
	return out.TransactionToken, nil
}

// Capture takes amount (≤ the authorized amount) from the hold.
func (c *Client) Capture(ctx context.Context, txToken string, amount int64) error {
	body, _ := json.Marshal(map[string]any{"transaction_token": txToken, "amount": amount})
	_, err := c.do(ctx, "credit capture", http.MethodPost, "/v1/credits/capture", body, http.Header{}, false)
	return err
}

// Cancel releases the hold.
func (c *Client) Cancel(ctx context.Context, txToken string) error {
	body, _ := json.Marshal(map[string]any{"transaction_token": txToken})
	_, err := c.do(ctx, "credit cancel", http.MethodPost, "/v1/credits/cancel", body, http.Header{}, false)
	return err
}
