package orders

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"go.etcd.io/bbolt"

	"github.com/storebox/storebox/daemon/store"
	"github.com/storebox/storebox/protocol/ledger"
)

// NotifyHandler serves POST /api/v1/payments/notify: the provider's notify
// {"ShopNo","PayToken"} relayed by the cloud, signed with upstream.secret
// (SPEC §6). The body proves nothing: the provider is asked about the token
// and only its answer, matched against the local order, counts. A token
// already processed is ignored. Answers {"Status":"S"} once the news is
// recorded; 503 when the provider cannot be asked (the cloud resends).
func (s *Service) NotifyHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", "POST")
			notifyReply(w, http.StatusMethodNotAllowed, "F", "POST only")
			return
		}
		if s.cfg.NotifySecret == "" {
			notifyReply(w, http.StatusNotFound, "F", "notifies are off: upstream.secret is not set")
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
		if err != nil {
			notifyReply(w, http.StatusBadRequest, "F", "read body: "+err.Error())
			return
		}
		if err := ledger.Verify(s.cfg.NotifySecret, r.Header.Get(ledger.HeaderSignature), ledger.SignedPayload(body, r.URL.RequestURI()), time.Now()); err != nil {
			s.log.Warn("payment notify refused", "err", err, "remote", r.RemoteAddr)
			notifyReply(w, http.StatusUnauthorized, "F", "signature: "+err.Error())
			return
		}
		var n struct {
			ShopNo   string `json:"ShopNo"`
			PayToken string `json:"PayToken"`
		}
		if err := json.Unmarshal(body, &n); err != nil || n.PayToken == "" || len(n.PayToken) > 200 {
			notifyReply(w, http.StatusBadRequest, "F", "body must be {\"ShopNo\",\"PayToken\"} with a PayToken")
			return
		}
		if s.pay == nil {
			notifyReply(w, http.StatusServiceUnavailable, "F", "no payment provider is configured")
			return
		}
		status, msg := s.handleToken(r, n.PayToken)
		if status == http.StatusOK {
			notifyReply(w, status, "S", msg)
			return
		}
		notifyReply(w, status, "F", msg)
	})
}

func notifyReply(w http.ResponseWriter, code int, status, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"Status": status, "Description": msg})
}

func (s *Service) handleToken(r *http.Request, token string) (int, string) {
	var done bool
	_ = s.st.View(func(tx *bbolt.Tx) error {
		done = tx.Bucket(bktTokens).Get([]byte(token)) != nil
		return nil
	})
	if done {
		return http.StatusOK, "already processed"
	}
	rep, err := s.pay.QueryToken(r.Context(), token)
	if err != nil {
		s.log.Warn("payment notify: provider query failed", "err", err)
		if errors.Is(err, ErrUnavailable) {
			return http.StatusServiceUnavailable, "the provider cannot be asked now; resend later"
		}
		return http.StatusBadGateway, "the provider refused the query: " + err.Error()
	}
	if !rep.Found {
		return http.StatusNotFound, "the provider knows no payment for this token"
	}
	var oid string
	_ = s.st.View(func(tx *bbolt.Tx) error {
		oid = string(tx.Bucket(bktRefs).Get([]byte(rep.Ref)))
		return nil
	})
	if oid == "" {
		s.log.Warn("payment notify for an order this store does not know", "ref", rep.Ref)
		return http.StatusOK, "not an order of this store"
	}
	if rep.Status != ReportPaid && rep.Status != ReportFailed {
		return http.StatusAccepted, "the payment is not final yet; resend later"
	}
	unlock := s.lock(oid)
	defer unlock()
	_, err = s.update(oid, func(t *store.Tx, old *Order) (*Order, error) {
		tb := t.Bucket(bktTokens)
		if tb.Get([]byte(token)) != nil {
			return old, nil
		}
		n := 0
		for _, a := range old.Attempts {
			if a.Ref == rep.Ref && a.Provider == s.pay.Name() {
				n = a.N
			}
		}
		if n == 0 {
			return old, nil
		}
		// Only news that settles the attempt uses the token up; a reply
		// that matches nothing (another amount) leaves it open for a
		// resend.
		if rep.proves(rep.Ref, old.AmountTotal) || rep.failed(rep.Ref) {
			if err := tb.Put([]byte(token), []byte(oid)); err != nil {
				return nil, err
			}
		}
		return s.applyReport(t, old, n, rep, s.now())
	})
	if err != nil {
		return http.StatusInternalServerError, "record: " + err.Error()
	}
	return http.StatusOK, "recorded"
}
