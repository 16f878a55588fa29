package payments

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/storebox/storebox/protocol/ledger"
)

// NotifyRecorder is what the notify endpoint needs of the order service.
type NotifyRecorder interface {
	// NotifySeen reports whether the news a notify's token carries is
	// already recorded.
	NotifySeen(token string) bool
	// RecordNotify records what the provider reported about the payment
	// the notify's token names.
	RecordNotify(token string, r Report) (NotifyOutcome, error)
}

// NotifyOutcome is what became of a notify's news.
type NotifyOutcome int

// Notify outcomes.
const (
	NotifyRecorded     NotifyOutcome = iota
	NotifyUnknownOrder               // the payment is not an order of this store
	NotifyNotFinal                   // neither paid nor failed yet
)

// NotifyHandler serves POST /api/v1/payments/notify: the provider's notify
// {"ShopNo","PayToken"} relayed by the cloud, signed with secret
// (upstream.secret, UPSTREAM.md §6). The body proves nothing: p is asked about
// the token and only its answer, matched against the local order by
// orders, counts. A token already processed is ignored. Answers
// {"Status":"S"} once the news is recorded; 503 when the provider cannot be
// asked (the cloud resends). The cloud signs with its own time, so the
// signature's age is judged by cloudNow (this box's clock corrected by the
// cloud's Date, UPSTREAM.md §2; nil: this box's clock).
func NotifyHandler(secret string, p Provider, orders NotifyRecorder, cloudNow func() time.Time, log *slog.Logger) http.Handler {
	if cloudNow == nil {
		cloudNow = time.Now
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", "POST")
			notifyReply(w, http.StatusMethodNotAllowed, "F", "POST only")
			return
		}
		if secret == "" {
			notifyReply(w, http.StatusNotFound, "F", "notifies are off: upstream.secret is not set")
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
		if err != nil {
			notifyReply(w, http.StatusBadRequest, "F", "read body: "+err.Error())
			return
		}
		if err := ledger.Verify(secret, r.Header.Get(ledger.HeaderSignature), ledger.SignedPayload(body, r.URL.RequestURI()), cloudNow()); err != nil {
			log.Warn("payment notify refused", "err", err, "remote", r.RemoteAddr)
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
		if p == nil {
			notifyReply(w, http.StatusServiceUnavailable, "F", "no payment provider is configured")
			return
		}
		status, msg := handleToken(r, p, orders, log, n.PayToken)
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

func handleToken(r *http.Request, p Provider, orders NotifyRecorder, log *slog.Logger, token string) (int, string) {
	if orders.NotifySeen(token) {
		return http.StatusOK, "already processed"
	}
	rep, err := p.QueryToken(r.Context(), token)
	if err != nil {
		log.Warn("payment notify: provider query failed", "err", err)
		if errors.Is(err, ErrUnavailable) {
			return http.StatusServiceUnavailable, "the provider cannot be asked now; resend later"
		}
		return http.StatusBadGateway, "the provider refused the query: " + err.Error()
	}
	if !rep.Found {
		return http.StatusNotFound, "the provider knows no payment for this token"
	}
	out, err := orders.RecordNotify(token, rep)
	switch {
	case err != nil:
		return http.StatusInternalServerError, "record: " + err.Error()
	case out == NotifyUnknownOrder:
		log.Warn("payment notify for an order this store does not know", "ref", rep.Ref)
		return http.StatusOK, "not an order of this store"
	case out == NotifyNotFinal:
		return http.StatusAccepted, "the payment is not final yet; resend later"
	}
	return http.StatusOK, "recorded"
}
