// Package ordermsg holds the order contract of PROTOCOL.md §2.7 and UPSTREAM.md §3: the bodies of
// getPayInfo, makePayment, getOrder and cancelOrder and of the orderPaid
// and orderExpired pushes, the stored order as the local API shows it, the
// checks a request passes before the catalog is consulted, and the data of
// the order and payment ledger events. It encodes, checks and prices only;
// daemon/orders owns the orders.
package ordermsg

import (
	"time"

	"github.com/storebox/storebox/protocol/devmsg"
	"github.com/storebox/storebox/protocol/goods"
)

// Order states.
const (
	StatusPending     = "pending"
	StatusPaid        = "paid"
	StatusCancelled   = "cancelled"
	StatusExpired     = "expired"
	StatusNeedsReview = "needs_review"
)

// Pay methods (PROTOCOL.md §2).
const (
	MethodQR          = "qr"
	MethodCard        = "card"
	MethodATM         = "atm"
	MethodCredit      = "credit"
	MethodCash        = "cash"
	MethodCardOffline = "card_offline"
)

// Limits on a line (issue 3).
const (
	MaxQty     = 9999
	MaxWeightG = 100000
	MaxLines   = 200
	maxIDLen   = 64
)

// Line is one line of an order, priced when the order was made.
type Line struct {
	GID     string `json:"gid"`
	Name    string `json:"gname,omitempty"`
	Unit    string `json:"unit"`
	Qty     int64  `json:"qty,omitempty"`
	WeightG int64  `json:"weight_g,omitempty"`
	Price   int64  `json:"price"`
	Amount  int64  `json:"amount"`
}

// StockQty is what the line holds in stock units: pieces, or grams for kg goods.
func (l Line) StockQty() int64 {
	if l.Unit == goods.UnitKg {
		return l.WeightG
	}
	return l.Qty
}

// Attempt is one try at collecting the money for an order. Attempts are
// numbered from 1; the provider's order number embeds the number, so a new
// attempt is a new provider order and a retried attempt is the same one.
type Attempt struct {
	N        int       `json:"n"`
	Method   string    `json:"method"`
	Provider string    `json:"provider,omitempty"` // qpay|test|credit|local
	Ref      string    `json:"ref,omitempty"`      // provider order number or credit order id
	URL      string    `json:"url,omitempty"`
	AtmPayNo string    `json:"atm_pay_no,omitempty"`
	Account  string    `json:"account,omitempty"` // credit account token
	Token    string    `json:"token,omitempty"`   // credit transaction token
	State    string    `json:"state"`
	Error    string    `json:"error,omitempty"`
	At       time.Time `json:"at"`
	Flagged  bool      `json:"flagged,omitempty"`  // a contradicting report was flagged
	Settled  bool      `json:"settled,omitempty"`  // credit captured
	Released bool      `json:"released,omitempty"` // credit hold cancelled (or nothing to cancel)
}

// Attempt providers besides a payment provider's name ("qpay", "test").
const (
	ProviderCredit = "credit" // store credit upstream
	ProviderLocal  = "local"  // cash or an offline card terminal
)

// Attempt states.
const (
	// AttemptSending: written before the provider call; the provider may or
	// may not know it (a lost reply). Polling and a retry find out.
	AttemptSending = "sending"
	// AttemptOpen: the provider has it and the customer can pay.
	AttemptOpen   = "open"
	AttemptPaid   = "paid"
	AttemptFailed = "failed"
	// AttemptSuperseded: a later attempt replaced it; the provider is still
	// asked about it while the order is pending, so a payment made on an old
	// QR code is not lost.
	AttemptSuperseded = "superseded"
)

// Review says why a person must look at an order.
type Review struct {
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
}

// Order is the stored order.
type Order struct {
	OID         string     `json:"oid"`
	OrderID     string     `json:"order_id"`
	EquipID     string     `json:"equipId"`
	OpenID      string     `json:"openId,omitempty"`
	Source      string     `json:"source,omitempty"` // "scale" for orders made on a network scale
	Status      string     `json:"status"`
	Warehouse   string     `json:"whid"`
	Lines       []Line     `json:"lines"`
	AmountTotal int64      `json:"amount_total"`
	Method      string     `json:"method"`
	CreatedAt   time.Time  `json:"created_at"`
	ExpiresAt   time.Time  `json:"expires_at"`
	PaidAt      *time.Time `json:"paid_at,omitempty"`
	ClosedAt    *time.Time `json:"closed_at,omitempty"`
	PaidBy      int        `json:"paid_by,omitempty"` // attempt number that paid
	Attempts    []Attempt  `json:"attempts,omitempty"`
	Reviews     []Review   `json:"reviews,omitempty"`
	// TestMode marks an order whose payment went through the test provider.
	TestMode bool `json:"test_mode,omitempty"`
}

// Redacted is o without credit account tokens (they are bearer secrets of
// a customer's account), for the status page and the local API.
func (o Order) Redacted() Order {
	if len(o.Attempts) == 0 {
		return o
	}
	o.Attempts = append([]Attempt(nil), o.Attempts...)
	for i := range o.Attempts {
		if o.Attempts[i].Account != "" {
			o.Attempts[i].Account = "(Redacted)"
		}
	}
	return o
}

// NeedsReview reports whether a person must look at the order.
func (o *Order) NeedsReview() bool { return len(o.Reviews) > 0 || o.Status == StatusNeedsReview }

// Final reports whether the order left pending.
func (o *Order) Final() bool { return o.Status != StatusPending }

// Attempt returns attempt number n, or nil.
func (o *Order) Attempt(n int) *Attempt {
	for i := range o.Attempts {
		if o.Attempts[i].N == n {
			return &o.Attempts[i]
		}
	}
	return nil
}

// LastAttempt returns the newest attempt, or nil.
func (o *Order) LastAttempt() *Attempt {
	if len(o.Attempts) == 0 {
		return nil
	}
	return &o.Attempts[len(o.Attempts)-1]
}

// View is the order as getOrder shows it (PROTOCOL.md §2).
type View struct {
	OID         string     `json:"oid"`
	OrderID     string     `json:"order_id"`
	Status      string     `json:"status"`
	AmountTotal int64      `json:"amount_total"`
	Lines       []Line     `json:"lines"`
	Method      string     `json:"method"`
	PaidAt      *time.Time `json:"paid_at,omitempty"`
	ExpiresAt   time.Time  `json:"expires_at"`
	NeedsReview bool       `json:"needs_review,omitempty"`
	TestMode    bool       `json:"test_mode,omitempty"`
}

// View returns the device view of the order.
func (o *Order) View() View {
	return View{OID: o.OID, OrderID: o.OrderID, Status: o.Status, AmountTotal: o.AmountTotal, Lines: o.Lines,
		Method: o.Method, PaidAt: o.PaidAt, ExpiresAt: o.ExpiresAt, NeedsReview: o.NeedsReview(), TestMode: o.TestMode}
}

// LineRequest is a line as a terminal sends it. Qty and WeightG are
// pointers so "absent" and "0" differ; json.Number keeps 1.5 from being
// silently truncated.
type LineRequest struct {
	GID     string   `json:"gid"`
	Qty     *float64 `json:"qty"`
	WeightG *float64 `json:"weight_g"`
}

// PayRequest is getPayInfo's body.
type PayRequest struct {
	OrderID      string        `json:"order_id"`
	Lines        []LineRequest `json:"lines"`
	PayMethod    string        `json:"pay_method"`
	OpenID       string        `json:"openId"`
	AccountToken string        `json:"account_token"`
	// Source is the kind of device that created the order ("scale" for a
	// network scale's order); set by the action, not read from the body.
	Source string `json:"-"`
}

// PayInfo is getPayInfo's reply.
type PayInfo struct {
	OID         string    `json:"oid"`
	AmountTotal int64     `json:"amount_total"`
	URL         string    `json:"url"`
	ExpiresAt   time.Time `json:"expires_at"`
	Status      string    `json:"status"`
	Method      string    `json:"method"`
	AtmPayNo    string    `json:"atm_pay_no,omitempty"`
	TestMode    bool      `json:"test_mode,omitempty"`
}

// BadRequest is a bad_request error for a device.
func BadRequest(format string, args ...any) *devmsg.Error {
	return devmsg.Errorf(devmsg.CodeBadRequest, format, args...)
}

// ValidID checks an id a device sent (equipId, order_id, oid).
func ValidID(field, v string) *devmsg.Error {
	if v == "" {
		return BadRequest("%s is required", field)
	}
	if len(v) > maxIDLen {
		return BadRequest("%s is longer than %d characters", field, maxIDLen)
	}
	for _, r := range v {
		if r < 0x20 || r == 0x7f || r == '\'' || r == '"' || r == '%' {
			return BadRequest("%s holds a character that is not allowed (control characters, quotes, %%)", field)
		}
	}
	return nil
}

// wholeNumber checks that f is an integer in [1, max].
func wholeNumber(f float64, max int64) (int64, bool) {
	if f != f || f < 1 || f > float64(max) || f != float64(int64(f)) {
		return 0, false
	}
	return int64(f), true
}

// Validate checks what can be checked without the catalog.
func (r *PayRequest) Validate() *devmsg.Error {
	if e := ValidID("order_id", r.OrderID); e != nil {
		return e
	}
	switch r.PayMethod {
	case MethodQR, MethodCard, MethodATM, MethodCredit, MethodCash:
	case "":
		return BadRequest("pay_method is required: qr, card, atm, credit or cash")
	default:
		return BadRequest("pay_method %q is not one of qr, card, atm, credit, cash", r.PayMethod)
	}
	if len(r.Lines) == 0 {
		return BadRequest("lines must not be empty")
	}
	if len(r.Lines) > MaxLines {
		return BadRequest("at most %d lines per order", MaxLines)
	}
	if len(r.OpenID) > 128 {
		return BadRequest("openId is longer than 128 characters")
	}
	for i, l := range r.Lines {
		if l.GID == "" {
			return BadRequest("lines[%d].gid is required", i)
		}
		if l.Qty != nil && l.WeightG != nil {
			return BadRequest("lines[%d]: give qty or weight_g, not both", i)
		}
		if l.Qty == nil && l.WeightG == nil {
			return BadRequest("lines[%d]: qty (pieces) or weight_g (kg goods) is required", i)
		}
	}
	return nil
}

// PriceLine checks one requested line against its goods and prices it.
func PriceLine(i int, l LineRequest, g goods.Goods) (Line, *devmsg.Error) {
	out := Line{GID: g.GID, Name: g.Name, Unit: g.Unit, Price: g.Price}
	switch g.Unit {
	case goods.UnitKg:
		if l.WeightG == nil {
			return Line{}, BadRequest("lines[%d]: %s is sold by weight: send weight_g (grams), not qty", i, g.GID)
		}
		w, ok := wholeNumber(*l.WeightG, MaxWeightG)
		if !ok {
			return Line{}, BadRequest("lines[%d].weight_g: must be a whole number of grams from 1 to %d", i, MaxWeightG)
		}
		out.WeightG = w
	default:
		if l.Qty == nil {
			return Line{}, BadRequest("lines[%d]: %s is sold by the piece: send qty, not weight_g", i, g.GID)
		}
		q, ok := wholeNumber(*l.Qty, MaxQty)
		if !ok {
			return Line{}, BadRequest("lines[%d].qty: must be a whole number from 1 to %d", i, MaxQty)
		}
		out.Qty = q
	}
	out.Amount = goods.LineAmount(g.Price, out.Qty, out.WeightG, g.Unit)
	return out, nil
}

// MadeFrom reports whether the order was made from these lines
// (same goods and quantities in the same order; prices may have moved since).
func (o *Order) MadeFrom(req []LineRequest) bool {
	if len(o.Lines) != len(req) {
		return false
	}
	for i, l := range req {
		ol := o.Lines[i]
		if ol.GID != l.GID {
			return false
		}
		var want *float64
		var have int64
		if ol.Unit == goods.UnitKg {
			want, have = l.WeightG, ol.WeightG
		} else {
			want, have = l.Qty, ol.Qty
		}
		if want == nil || *want != float64(have) {
			return false
		}
		if (ol.Unit == goods.UnitKg && l.Qty != nil) || (ol.Unit != goods.UnitKg && l.WeightG != nil) {
			return false
		}
	}
	return true
}

// EventData is what every order and payment event carries (UPSTREAM.md §3).
type EventData struct {
	OID         string     `json:"oid"`
	OrderID     string     `json:"order_id"`
	EquipID     string     `json:"equipId"`
	OpenID      string     `json:"openId,omitempty"`
	Source      string     `json:"source,omitempty"`
	Status      string     `json:"status"`
	AmountTotal int64      `json:"amount_total"`
	Method      string     `json:"method"`
	Lines       []Line     `json:"lines"`
	Warehouse   string     `json:"whid"`
	PaidAt      *time.Time `json:"paid_at,omitempty"`
	Attempt     int        `json:"attempt,omitempty"`
	Provider    string     `json:"provider,omitempty"`
	Ref         string     `json:"ref,omitempty"`
	Reason      string     `json:"reason,omitempty"`
	TestMode    bool       `json:"test_mode,omitempty"`
}

// NewEventData is the event data of o, and of attempt a when not nil.
func NewEventData(o *Order, a *Attempt, reason string) EventData {
	d := EventData{OID: o.OID, OrderID: o.OrderID, EquipID: o.EquipID, OpenID: o.OpenID, Source: o.Source, Status: o.Status,
		AmountTotal: o.AmountTotal, Method: o.Method, Lines: o.Lines, Warehouse: o.Warehouse, PaidAt: o.PaidAt,
		Reason: reason, TestMode: o.TestMode}
	if a != nil {
		d.Attempt, d.Provider, d.Ref, d.Method = a.N, a.Provider, a.Ref, a.Method
	}
	return d
}

// Flag asks a person to look at the order, saying why.
func (o *Order) Flag(reason string, now time.Time) {
	o.Reviews = append(o.Reviews, Review{Reason: reason, At: now})
}

// Clone copies o deeply enough that changing the copy's slices leaves o as
// it was (the store diffs old against new).
func (o *Order) Clone() *Order {
	c := *o
	c.Lines = append([]Line(nil), o.Lines...)
	c.Attempts = append([]Attempt(nil), o.Attempts...)
	c.Reviews = append([]Review(nil), o.Reviews...)
	return &c
}

// PaidPush is the body of the orderPaid push.
type PaidPush struct {
	OID         string    `json:"oid"`
	AmountTotal int64     `json:"amount_total"`
	Method      string    `json:"method"`
	PaidAt      time.Time `json:"paid_at"`
}

// ExpiredPush is the body of the orderExpired push.
type ExpiredPush struct {
	OID string `json:"oid"`
}

// OIDBody is the body of getOrder and cancelOrder.
type OIDBody struct {
	OID string `json:"oid"`
}

// MakePaymentBody is makePayment's body.
type MakePaymentBody struct {
	OID    string   `json:"oid"`
	Method string   `json:"method"`
	Amount *float64 `json:"amount"`
}

// OrderReply is getOrder's reply.
type OrderReply struct {
	Order View `json:"order"`
}
