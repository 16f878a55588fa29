// Package ledger holds the wire format of the upstream ledger (UPSTREAM.md §2–3):
// events, batches, acknowledgements and the request signature.
package ledger

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Event is one business fact, as stored in the outbox and sent upstream.
type Event struct {
	ID   string          `json:"id"`
	Seq  uint64          `json:"seq"`
	Type string          `json:"type"`
	At   time.Time       `json:"at"`
	Data json.RawMessage `json:"data"`
}

// Event types named by UPSTREAM.md §2–3 and the issues.
const (
	OrderCreated    = "order.created"
	OrderPaid       = "order.paid"
	OrderCancelled  = "order.cancelled"
	OrderExpired    = "order.expired"
	OrderReview     = "order.needs_review"
	PaymentCreated  = "payment.created"
	PaymentFailed   = "payment.failed"
	StockReceived   = "stock.received"
	StockAdjusted   = "stock.adjusted"
	DoorOpened      = "door.opened"
	DoorDenied      = "door.denied"
	DoorOpenFailed  = "door.open_failed"
	DeviceApproved  = "device.approved"
	DeviceRejected  = "device.rejected"
	CatalogImported = "catalog.imported"
	LabelBound      = "label.bound"
	LabelUnbound    = "label.unbound"
)

// Batch is the body of POST /v1/stores/<s>/events.
type Batch struct {
	BatchID string  `json:"batch_id"`
	Events  []Event `json:"events"`
}

// Ack is the cloud's reply to a batch.
type Ack struct {
	AckedThrough uint64 `json:"acked_through"`
}

// Header names.
const (
	HeaderStore     = "X-Storebox-Store"
	HeaderSignature = "X-Storebox-Signature"
	HeaderIdemKey   = "Idempotency-Key"
)

// MaxSkew is how old a signature the cloud accepts.
const MaxSkew = 5 * time.Minute

// SignedPayload is what is signed: the body, or for a request without a body
// the path and query (e.g. "/v1/stores/s1/catalog?since=x&limit=10").
func SignedPayload(body []byte, pathAndQuery string) []byte {
	if len(body) == 0 {
		return []byte(pathAndQuery)
	}
	return body
}

// Sign returns the X-Storebox-Signature value for payload at time t.
func Sign(secret string, t time.Time, payload []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + mac(secret, ts, payload)
}

func mac(secret, ts string, payload []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write([]byte("."))
	m.Write(payload)
	return hex.EncodeToString(m.Sum(nil))
}

// Errors returned by Verify.
var (
	ErrBadSignature   = errors.New("signature does not match")
	ErrStaleSignature = errors.New("signature timestamp outside the allowed window")
	ErrMalformed      = errors.New("malformed signature header")
)

// Verify checks a signature header against payload at time now.
func Verify(secret, header string, payload []byte, now time.Time) error {
	var ts, v1 string
	for _, part := range strings.Split(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return ErrMalformed
		}
		switch k {
		case "t":
			ts = v
		case "v1":
			v1 = v
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || v1 == "" {
		return ErrMalformed
	}
	if !hmac.Equal([]byte(mac(secret, ts, payload)), []byte(strings.ToLower(v1))) {
		return ErrBadSignature
	}
	if d := now.Sub(time.Unix(sec, 0)); d > MaxSkew || d < -MaxSkew {
		return fmt.Errorf("%w: %s", ErrStaleSignature, d.Round(time.Second))
	}
	return nil
}
