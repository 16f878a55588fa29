package orders

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"go.etcd.io/bbolt"

	"github.com/storebox/storebox/daemon/orders/internal/groupcommit"
	"github.com/storebox/storebox/daemon/orders/internal/keyindex"
	"github.com/storebox/storebox/daemon/orders/internal/keylock"
	"github.com/storebox/storebox/daemon/orders/internal/orderdb"
	"github.com/storebox/storebox/daemon/orders/internal/schedule"
	"github.com/storebox/storebox/daemon/payments"
	"github.com/storebox/storebox/daemon/store"
	"github.com/storebox/storebox/protocol/devmsg"
	"github.com/storebox/storebox/protocol/ledger"
	"github.com/storebox/storebox/protocol/ordermsg"
)

// Config tunes a Service. Zero values take the defaults noted.
type Config struct {
	TTL       time.Duration // orders.payment_ttl; default 15m
	Warehouse string        // selling warehouse; default the store's
	StoreID   string
	// PollInterval and PollMax bound the provider polling backoff
	// (payments.qpay.poll_interval / poll_max; defaults 2s and 30s).
	PollInterval time.Duration
	PollMax      time.Duration
	// LatePoll is how long a provider payment is still asked about after
	// its order closed, so a payment made at the last second is recorded
	// (default 30m).
	LatePoll time.Duration
	// CreditHoldTTL is the lifetime asked for a credit hold (default 24h);
	// the capture normally follows within seconds.
	CreditHoldTTL time.Duration
	// NotifySecret is upstream.secret: relayed notifies must be signed with
	// it. Empty disables the notify endpoint.
	NotifySecret string
	// CloudNow is the cloud's time as this box knows it (its clock
	// corrected by the cloud's Date): relayed notifies are signed with
	// the cloud's time. Nil: time.Now.
	CloudNow func() time.Time
	// PayPageBase is the local HTTP server's base URL as devices reach it
	// ("http://192.168.1.10:8680"); the test provider's pay links use it.
	PayPageBase string
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Receipt is what receipts show (orderPaid, getReceipt).
	Receipt ReceiptConfig
	// OnPaid, if set, runs in the transaction that makes an order paid.
	OnPaid PaidHook
	// Admitted, if set, names whom a door beside a terminal let in last;
	// getPayInfo without an openId sells to them.
	Admitted AdmittedLookup
	// Retention is orders.retention: how long a finished order is kept
	// after it closed (retention.go). Zero keeps every order.
	Retention time.Duration
	// Acknowledged says a cloud acknowledges the ledger (an upstream is
	// configured); without one no order is ever removed.
	Acknowledged bool
}

// AdmittedLookup answers who a door beside terminal equipID admitted last
// (doors.Service implements it).
type AdmittedLookup interface {
	LastAdmitted(equipID string) (openID string, ok bool)
}

// Service owns orders. Create it with New and run Serve.
type Service struct {
	cfg      Config
	st       *store.Store
	instance string
	pay      payments.Provider
	credit   payments.Credit
	log      *slog.Logger
	// commit runs a write transaction; group commit shares one fsync
	// among concurrent terminals. The benchmark swaps it for Update to
	// measure one fsync per order.
	commit func(func(*store.Tx) error) error
	group  *groupcommit.Group
	keys   *keyindex.Index

	pusher Pusher

	locks keylock.Locks
	// seq numbers oids. It is handed out before the write transaction (a
	// number whose transaction fails is skipped) and each order's
	// transaction raises the stored high-water mark to it.
	seq atomic.Uint64
	// ttl is cfg.TTL as a reload leaves it (orders.payment_ttl).
	ttl atomic.Int64

	sched   *schedule.Schedule
	collect *payments.Collector

	pruneHooks []PruneHook
	pruneBatch int // orders per pruning transaction (pruneBatch; tests make it small)
}

// New opens the orders buckets in st and returns the service.
func New(cfg Config, st *store.Store, pay payments.Providers, pusher Pusher, log *slog.Logger) (*Service, error) {
	if cfg.TTL <= 0 {
		cfg.TTL = 15 * time.Minute
	}
	if cfg.Warehouse == "" {
		cfg.Warehouse = st.Warehouse()
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 2 * time.Second
	}
	if cfg.PollMax < cfg.PollInterval {
		cfg.PollMax = max(30*time.Second, cfg.PollInterval)
	}
	if cfg.LatePoll <= 0 {
		cfg.LatePoll = 30 * time.Minute
	}
	if cfg.CreditHoldTTL <= 0 {
		cfg.CreditHoldTTL = 24 * time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Retention > 0 && cfg.Retention < 24*time.Hour {
		log.Warn("orders.retention is under a day: finished orders leave the box soon after the cloud has them", "retention", cfg.Retention)
	}
	inst, seq, err := orderdb.Open(st)
	if err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg, st: st, instance: inst, pay: pay.Payment, credit: pay.Credit, log: log, pusher: pusher}
	s.pruneBatch = pruneBatch
	s.seq.Store(seq)
	s.ttl.Store(int64(cfg.TTL))
	s.keys = keyindex.New(log, orderdb.KeysBucket, orderdb.KeyLogBucket)
	if err := s.keys.Load(st); err != nil {
		return nil, fmt.Errorf("open orders: %w", err)
	}
	s.group = groupcommit.New(func(fn func(*store.Tx) error) error { return s.keys.Update(st, st.Update, fn) })
	s.commit = s.group.Do
	s.sched = schedule.New()
	s.collect = payments.NewCollector(pay, outcomes{s}, cfg.PollInterval, cfg.CreditHoldTTL)
	return s, nil
}

// SetPaymentTTL changes how long the orders created from now on wait for
// payment (a reload or a remote configuration); existing orders keep theirs.
func (s *Service) SetPaymentTTL(d time.Duration) {
	if d > 0 {
		s.ttl.Store(int64(d))
	}
}

// TestMode reports whether qr, card and atm go to the test provider, which
// moves no money.
func (s *Service) TestMode() bool { return s.pay != nil && s.pay.TestMode() }

func (s *Service) now() time.Time { return s.cfg.Now().UTC() }

func (s *Service) push(equipID, action string, body any) {
	p := s.pusher
	if p == nil || equipID == "" {
		return
	}
	if !p.Push(equipID, action, body) {
		s.log.Debug("push not delivered: device not connected", "equipId", equipID, "action", action)
	}
}

// lock serialises the network work of one order (a send, a poll, a
// notify), so one payment is never sent twice at once. Per order, so a slow
// provider call for one order never holds up another's.
func (s *Service) lock(oid string) func() { return s.locks.Lock(oid) }

func internal(op string, err error) error {
	var de *devmsg.Error
	if errors.As(err, &de) {
		return de
	}
	return fmt.Errorf("%s: %w", op, err)
}

// GetPayInfo creates the order for (equipID, req.OrderID) — or finds the one
// already made — and starts collecting the payment. The order and its
// reservation are on disk before it returns.
func (s *Service) GetPayInfo(ctx context.Context, equipID string, req ordermsg.PayRequest) (ordermsg.PayInfo, error) {
	if e := ordermsg.ValidID("equipId", equipID); e != nil {
		return ordermsg.PayInfo{}, e
	}
	if e := req.Validate(); e != nil {
		return ordermsg.PayInfo{}, e
	}
	if e := s.methodAvailable(req); e != nil {
		return ordermsg.PayInfo{}, e
	}
	if req.OpenID == "" && s.cfg.Admitted != nil {
		if id, ok := s.cfg.Admitted.LastAdmitted(equipID); ok {
			req.OpenID = id
		}
	}
	now := s.now()
	// The new order is priced and encoded outside the write transaction
	// that concurrent terminals share; inside, only the idempotency key and
	// the stock are checked.
	prep, perr := s.prepare(equipID, req, now)
	if perr != nil {
		if !s.keys.Exists(s.st, orderdb.Key(equipID, req.OrderID)) {
			return ordermsg.PayInfo{}, perr
		}
	}
	var (
		o     *ordermsg.Order
		fresh bool
		derr  *devmsg.Error
	)
	err := s.commit(func(t *store.Tx) error {
		// A commit may run this more than once: start clean every time.
		o, fresh, derr = nil, false, nil
		if oid := s.keys.LookupTx(t, orderdb.Key(equipID, req.OrderID)); oid != "" {
			old, err := orderdb.Load(t.Tx, oid)
			if err != nil {
				return err
			}
			if old == nil {
				return fmt.Errorf("order key %s/%s points at missing order %s", equipID, req.OrderID, oid)
			}
			if !old.MadeFrom(req.Lines) {
				derr = devmsg.Errorf(devmsg.CodeConflict, "order_id %q was already used for an order with other lines (%s); use a new order_id", req.OrderID, oid)
				return nil
			}
			o, fresh, err = s.reissue(t, old, req, now)
			return err
		}
		if prep == nil {
			derr = perr
			return nil
		}
		if short := shortLines(t, s.cfg.Warehouse, prep.o.Lines); len(short) > 0 {
			derr = devmsg.Errorf(devmsg.CodeOutOfStock, "not enough stock for %s", fmtLines(short))
			return nil
		}
		if err := stockMove(t, s.cfg.Warehouse, prep.o.Lines, 0, 1); err != nil {
			return err
		}
		if _, err := t.AppendEvent(ledger.OrderCreated, prep.created); err != nil {
			return err
		}
		if _, err := t.AppendEvent(ledger.PaymentCreated, prep.payment); err != nil {
			return err
		}
		if err := orderdb.RaiseSeq(t, prep.seq); err != nil {
			return err
		}
		o, fresh = prep.o, true
		return saveOrderJSON(t, nil, prep.o, prep.json, s)
	})
	if err != nil {
		return ordermsg.PayInfo{}, internal("getPayInfo: save order", err)
	}
	if derr != nil {
		return ordermsg.PayInfo{}, derr
	}
	if la := o.LastAttempt(); o.Status != ordermsg.StatusPending || la == nil || la.State != ordermsg.AttemptSending {
		return s.payInfo(o), nil // nothing to send (cash, or already sent)
	}
	o, err = s.collect.Collect(ctx, o.OID, fresh)
	if o == nil {
		return ordermsg.PayInfo{}, err
	}
	return s.payInfo(o), err
}

// prepared is a new order built outside the transaction.
type prepared struct {
	o                *ordermsg.Order
	seq              uint64
	json             []byte
	created, payment json.RawMessage
}

func (s *Service) prepare(equipID string, req ordermsg.PayRequest, now time.Time) (*prepared, *devmsg.Error) {
	lines := make([]ordermsg.Line, len(req.Lines))
	var total int64
	var derr *devmsg.Error
	err := s.st.View(func(tx *bbolt.Tx) error {
		for i, lr := range req.Lines {
			g, ok, err := s.st.GoodsTx(tx, lr.GID)
			if err != nil {
				return err
			}
			if !ok {
				derr = devmsg.Errorf(devmsg.CodeNotFound, "lines[%d]: no goods with gid %q", i, lr.GID)
				return nil
			}
			l, e := ordermsg.PriceLine(i, lr, g)
			if e != nil {
				derr = e
				return nil
			}
			lines[i] = l
			total += l.Amount
		}
		return nil
	})
	if err != nil {
		return nil, devmsg.Errorf(devmsg.CodeInternal, "getPayInfo: read goods: %v", err)
	}
	if derr != nil {
		return nil, derr
	}
	seq := s.seq.Add(1)
	o := &ordermsg.Order{OID: fmt.Sprintf("%s-%08d", s.instance, seq), OrderID: req.OrderID, EquipID: equipID, OpenID: req.OpenID, Source: req.Source,
		Status: ordermsg.StatusPending, Warehouse: s.cfg.Warehouse, Lines: lines, AmountTotal: total,
		Method: req.PayMethod, CreatedAt: now, ExpiresAt: now.Add(time.Duration(s.ttl.Load()))}
	a := s.newAttempt(o, req, now)
	p := &prepared{o: o, seq: seq}
	var e1, e2, e3 error
	p.json, e1 = json.Marshal(o)
	p.created, e2 = json.Marshal(ordermsg.NewEventData(o, nil, ""))
	p.payment, e3 = json.Marshal(ordermsg.NewEventData(o, a, ""))
	if err := errors.Join(e1, e2, e3); err != nil {
		return nil, devmsg.Errorf(devmsg.CodeInternal, "getPayInfo: encode order: %v", err)
	}
	return p, nil
}

func (s *Service) methodAvailable(req ordermsg.PayRequest) *devmsg.Error {
	switch req.PayMethod {
	case ordermsg.MethodQR, ordermsg.MethodCard, ordermsg.MethodATM:
		if s.pay == nil {
			return ordermsg.BadRequest("pay_method %s is not available: no payment provider is configured (payments.provider); use cash", req.PayMethod)
		}
	case ordermsg.MethodCredit:
		if req.AccountToken == "" {
			return ordermsg.BadRequest("pay_method credit needs account_token")
		}
		if len(req.AccountToken) > 256 {
			return ordermsg.BadRequest("account_token is longer than 256 characters")
		}
		if s.credit == nil {
			return devmsg.Errorf(devmsg.CodeOffline, "store credit needs the cloud, and no upstream is configured; pay another way")
		}
	}
	return nil
}

// newAttempt appends the attempt that collects req.PayMethod to o.
func (s *Service) newAttempt(o *ordermsg.Order, req ordermsg.PayRequest, now time.Time) *ordermsg.Attempt {
	n := len(o.Attempts) + 1
	a := ordermsg.Attempt{N: n, Method: req.PayMethod, At: now}
	switch req.PayMethod {
	case ordermsg.MethodCash, ordermsg.MethodCardOffline:
		a.Provider, a.State = ordermsg.ProviderLocal, ordermsg.AttemptOpen
	case ordermsg.MethodCredit:
		// The cloud dedupes holds by order id, so every credit attempt of an
		// order names the same hold.
		a.Provider, a.Ref, a.Account, a.State = ordermsg.ProviderCredit, o.OID, req.AccountToken, ordermsg.AttemptSending
	default:
		a.Provider, a.Ref, a.State = s.pay.Name(), fmt.Sprintf("%s-%d", o.OID, n), ordermsg.AttemptSending
		o.TestMode = o.TestMode || s.pay.TestMode()
	}
	o.Method = req.PayMethod
	o.Attempts = append(o.Attempts, a)
	return &o.Attempts[len(o.Attempts)-1]
}

// reissue answers a repeated getPayInfo: the same method again is the same
// payment; another method (or a retry after a failure) is a new attempt on
// the same order.
func (s *Service) reissue(t *store.Tx, old *ordermsg.Order, req ordermsg.PayRequest, now time.Time) (*ordermsg.Order, bool, error) {
	if old.Status != ordermsg.StatusPending {
		return old, false, nil
	}
	if last := old.LastAttempt(); last != nil && last.Method == req.PayMethod && last.State != ordermsg.AttemptFailed && !lostLink(last) {
		return old, false, nil
	}
	o := old.Clone()
	for i := range o.Attempts {
		if o.Attempts[i].State == ordermsg.AttemptOpen || (o.Attempts[i].State == ordermsg.AttemptSending && o.Attempts[i].Provider != ordermsg.ProviderCredit) {
			o.Attempts[i].State = ordermsg.AttemptSuperseded
		}
	}
	a := s.newAttempt(o, req, now)
	if err := event(t, ledger.PaymentCreated, o, a, "re-issued"); err != nil {
		return nil, false, err
	}
	return o, true, saveOrder(t, old, o, s)
}

// lostLink reports a provider payment that exists but whose pay link we
// never received (the create reply was lost; polling found the payment):
// the customer cannot use it, so a repeated getPayInfo starts a new one.
func lostLink(a *ordermsg.Attempt) bool {
	return a.Provider != ordermsg.ProviderLocal && a.Provider != ordermsg.ProviderCredit && a.State == ordermsg.AttemptOpen && a.URL == "" && a.AtmPayNo == ""
}

// Get returns one order, without the credit account tokens it holds.
func (s *Service) Get(oid string) (ordermsg.Order, bool, error) {
	o, ok, err := s.get(oid)
	return o.Redacted(), ok, err
}

func (s *Service) get(oid string) (ordermsg.Order, bool, error) {
	var o *ordermsg.Order
	err := s.st.View(func(tx *bbolt.Tx) (err error) {
		o, err = orderdb.Load(tx, oid)
		return err
	})
	if err != nil || o == nil {
		return ordermsg.Order{}, false, err
	}
	return *o, true, nil
}

// GetOrder is getOrder: the device view of one order.
func (s *Service) GetOrder(oid string) (ordermsg.View, error) {
	if e := ordermsg.ValidID("oid", oid); e != nil {
		return ordermsg.View{}, e
	}
	o, ok, err := s.Get(oid)
	if err != nil {
		return ordermsg.View{}, internal("getOrder", err)
	}
	if !ok {
		return ordermsg.View{}, devmsg.Errorf(devmsg.CodeNotFound, "no order %q", oid)
	}
	return o.View(), nil
}

// CancelOrder is cancelOrder: a pending order is cancelled and its stock
// released. Cancelling a cancelled or expired order again is fine; a paid
// one is a conflict.
func (s *Service) CancelOrder(equipID, oid string) error {
	if e := ordermsg.ValidID("oid", oid); e != nil {
		return e
	}
	var derr *devmsg.Error
	err := s.commit(func(t *store.Tx) error {
		derr = nil
		o, err := orderdb.Load(t.Tx, oid)
		if err != nil {
			return err
		}
		switch {
		case o == nil:
			derr = devmsg.Errorf(devmsg.CodeNotFound, "no order %q", oid)
		case o.EquipID != equipID:
			derr = devmsg.Errorf(devmsg.CodeForbidden, "order %s belongs to terminal %s", oid, o.EquipID)
		case o.Status == ordermsg.StatusPaid || o.Status == ordermsg.StatusNeedsReview:
			derr = devmsg.Errorf(devmsg.CodeConflict, "order %s is %s and cannot be cancelled", oid, o.Status)
		case o.Status == ordermsg.StatusPending:
			_, err = s.close(t, o, ordermsg.StatusCancelled, s.now())
		}
		return err
	})
	if err != nil {
		return internal("cancelOrder", err)
	}
	if derr != nil {
		return derr
	}
	return nil
}

// MakePayment is makePayment: cash or an offline card terminal paid the
// exact amount_total. A retry of the same payment succeeds again.
func (s *Service) MakePayment(equipID, oid, method string, amount int64) error {
	if e := ordermsg.ValidID("oid", oid); e != nil {
		return e
	}
	if method != ordermsg.MethodCash && method != ordermsg.MethodCardOffline {
		return ordermsg.BadRequest("method must be cash or card_offline, not %q", method)
	}
	var derr *devmsg.Error
	err := s.commit(func(t *store.Tx) error {
		derr = nil
		old, err := orderdb.Load(t.Tx, oid)
		if err != nil {
			return err
		}
		switch {
		case old == nil:
			derr = devmsg.Errorf(devmsg.CodeNotFound, "no order %q", oid)
			return nil
		case old.EquipID != equipID:
			derr = devmsg.Errorf(devmsg.CodeForbidden, "order %s belongs to terminal %s", oid, old.EquipID)
			return nil
		case amount != old.AmountTotal:
			derr = ordermsg.BadRequest("amount %d does not equal the order's amount_total %d", amount, old.AmountTotal)
			return nil
		case old.Status == ordermsg.StatusPaid:
			if a := old.Attempt(old.PaidBy); a != nil && a.Provider == ordermsg.ProviderLocal && a.Method == method {
				return nil // the same payment, retried
			}
			derr = devmsg.Errorf(devmsg.CodeConflict, "order %s is already paid by %s", oid, old.Method)
			return nil
		case old.Status == ordermsg.StatusNeedsReview:
			derr = devmsg.Errorf(devmsg.CodeConflict, "order %s needs review and cannot take another payment", oid)
			return nil
		}
		now := s.now()
		o := old.Clone()
		a := o.LastAttempt()
		if a == nil || a.Provider != ordermsg.ProviderLocal || a.Method != method || a.State != ordermsg.AttemptOpen {
			a = s.newAttempt(o, ordermsg.PayRequest{PayMethod: method}, now)
			a.Provider, a.State = ordermsg.ProviderLocal, ordermsg.AttemptOpen
			if err := event(t, ledger.PaymentCreated, o, a, "makePayment"); err != nil {
				return err
			}
			if err := saveOrder(t, old, o, s); err != nil {
				return err
			}
			old = o
		}
		paid, err := s.markPaid(t, old, a.N, now)
		if err != nil {
			return err
		}
		if paid.Status == ordermsg.StatusNeedsReview {
			derr = devmsg.Errorf(devmsg.CodeConflict, "order %s had %s and its stock is gone; the payment is recorded and the order needs review", oid, old.Status)
		}
		return nil
	})
	if err != nil {
		return internal("makePayment", err)
	}
	if derr != nil {
		return derr
	}
	return nil
}

func (s *Service) payInfo(o *ordermsg.Order) ordermsg.PayInfo {
	p := ordermsg.PayInfo{OID: o.OID, AmountTotal: o.AmountTotal, ExpiresAt: o.ExpiresAt, Status: o.Status, Method: o.Method, TestMode: o.TestMode}
	if a := o.LastAttempt(); a != nil && o.Status == ordermsg.StatusPending {
		p.URL, p.AtmPayNo = a.URL, a.AtmPayNo
	}
	return p
}
