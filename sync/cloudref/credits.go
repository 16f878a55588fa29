package cloudref

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/storebox/storebox/sync/cloudref/cloudkit"
)

// credits keeps store-credit accounts and holds. A hold lowers what can be
// authorized until it is captured, cancelled or lapses (ttl_s).
type credits struct {
	mu       sync.Mutex
	path     string
	now      func() time.Time
	Balances map[string]int64 `json:"balances"`
	Holds    map[string]*hold `json:"holds"` // by transaction token
}

type hold struct {
	Account  string    `json:"account"`
	OrderID  string    `json:"order_id"`
	Amount   int64     `json:"amount"`
	Expires  time.Time `json:"expires"`
	State    string    `json:"state"` // held|captured|cancelled
	Captured int64     `json:"captured,omitempty"`
}

func openCredits(dataDir string, initial map[string]int64, now func() time.Time) (*credits, error) {
	c := &credits{now: now, Balances: map[string]int64{}, Holds: map[string]*hold{}}
	if dataDir != "" {
		c.path = filepath.Join(dataDir, "credits.json")
		b, err := os.ReadFile(c.path)
		switch {
		case errors.Is(err, os.ErrNotExist):
		case err != nil:
			return nil, fmt.Errorf("read credits: %w", err)
		default:
			if err := json.Unmarshal(b, c); err != nil {
				return nil, fmt.Errorf("credits state %s: %w", c.path, err)
			}
		}
	}
	for a, v := range initial {
		c.Balances[a] = v
	}
	if c.Holds == nil {
		c.Holds = map[string]*hold{}
	}
	return c, c.save()
}

func (c *credits) save() error {
	if c.path == "" {
		return nil
	}
	b, _ := json.Marshal(c)
	return cloudkit.ReplaceFile(c.path, b, "credits")
}

func (c *credits) balances() map[string]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int64, len(c.Balances))
	for k, v := range c.Balances {
		out[k] = v
	}
	return out
}

// available is the balance less live holds; call with mu held.
func (c *credits) available(acct string) int64 {
	now := c.now()
	v := c.Balances[acct]
	for _, h := range c.Holds {
		if h.Account == acct && h.State == "held" && now.Before(h.Expires) {
			v -= h.Amount
		}
	}
	return v
}

func decodeBody(r *http.Request, v any) error {
	dec := json.NewDecoder(bytes.NewReader(cloudkit.Body(r)))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	var req struct {
		AccountToken string `json:"account_token"`
		Amount       int64  `json:"amount"`
		OrderID      string `json:"order_id"`
		TTLs         int64  `json:"ttl_s"`
	}
	if err := decodeBody(r, &req); err != nil {
		cloudkit.WriteErr(w, http.StatusBadRequest, "bad_json", err.Error())
		return
	}
	if req.AccountToken == "" || req.OrderID == "" || req.Amount <= 0 {
		cloudkit.WriteErr(w, http.StatusBadRequest, "bad_request", "account_token, order_id and a positive amount are required")
		return
	}
	if req.TTLs <= 0 {
		req.TTLs = 900
	}
	c := s.cred
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.Balances[req.AccountToken]; !ok {
		cloudkit.WriteErr(w, http.StatusNotFound, "unknown_account", "no such account")
		return
	}
	now := c.now()
	for tok, h := range c.Holds {
		if h.Account == req.AccountToken && h.OrderID == req.OrderID && h.State == "held" && now.Before(h.Expires) {
			if h.Amount == req.Amount {
				cloudkit.WriteJSON(w, http.StatusOK, map[string]string{"transaction_token": tok}) // a retry
				return
			}
			cloudkit.WriteErr(w, http.StatusConflict, "order_already_authorized", "a hold for this order exists with another amount")
			return
		}
	}
	if c.available(req.AccountToken) < req.Amount {
		cloudkit.WriteErr(w, http.StatusPaymentRequired, "insufficient_credit", "not enough credit")
		return
	}
	var rb [12]byte
	rand.Read(rb[:])
	tok := "tx_" + hex.EncodeToString(rb[:])
	c.Holds[tok] = &hold{Account: req.AccountToken, OrderID: req.OrderID, Amount: req.Amount,
		Expires: now.Add(time.Duration(req.TTLs) * time.Second), State: "held"}
	if err := c.save(); err != nil {
		delete(c.Holds, tok)
		cloudkit.WriteErr(w, http.StatusInternalServerError, "storage", err.Error())
		return
	}
	cloudkit.WriteJSON(w, http.StatusOK, map[string]string{"transaction_token": tok})
}

func (s *Server) capture(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Token  string `json:"transaction_token"`
		Amount int64  `json:"amount"`
	}
	if err := decodeBody(r, &req); err != nil {
		cloudkit.WriteErr(w, http.StatusBadRequest, "bad_json", err.Error())
		return
	}
	c := s.cred
	c.mu.Lock()
	defer c.mu.Unlock()
	h := c.Holds[req.Token]
	switch {
	case h == nil:
		cloudkit.WriteErr(w, http.StatusNotFound, "unknown_transaction", "no such transaction")
		return
	case h.State == "captured" && h.Captured == req.Amount:
		cloudkit.WriteJSON(w, http.StatusOK, map[string]string{"status": "captured"}) // a retry
		return
	case h.State != "held":
		cloudkit.WriteErr(w, http.StatusConflict, "not_held", "transaction is "+h.State)
		return
	case !c.now().Before(h.Expires):
		cloudkit.WriteErr(w, http.StatusConflict, "expired", "the hold has lapsed")
		return
	case req.Amount < 0 || req.Amount > h.Amount:
		cloudkit.WriteErr(w, http.StatusBadRequest, "bad_amount", "amount must be between 0 and the authorized amount")
		return
	}
	h.State, h.Captured = "captured", req.Amount
	c.Balances[h.Account] -= req.Amount
	if err := c.save(); err != nil {
		cloudkit.WriteErr(w, http.StatusInternalServerError, "storage", err.Error())
		return
	}
	cloudkit.WriteJSON(w, http.StatusOK, map[string]string{"status": "captured"})
}

func (s *Server) cancel(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Token string `json:"transaction_token"`
	}
	if err := decodeBody(r, &req); err != nil {
		cloudkit.WriteErr(w, http.StatusBadRequest, "bad_json", err.Error())
		return
	}
	c := s.cred
	c.mu.Lock()
	defer c.mu.Unlock()
	h := c.Holds[req.Token]
	switch {
	case h == nil:
		cloudkit.WriteErr(w, http.StatusNotFound, "unknown_transaction", "no such transaction")
		return
	case h.State == "captured":
		cloudkit.WriteErr(w, http.StatusConflict, "already_captured", "transaction was captured")
		return
	}
	h.State = "cancelled"
	if err := c.save(); err != nil {
		cloudkit.WriteErr(w, http.StatusInternalServerError, "storage", err.Error())
		return
	}
	cloudkit.WriteJSON(w, http.StatusOK, map[string]string{"status": "cancelled"})
}
