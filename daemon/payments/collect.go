package payments

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/storebox/storebox/protocol/devmsg"
	"github.com/storebox/storebox/protocol/ordermsg"
	"github.com/storebox/storebox/sync/upstream"
)

// Orders is what collecting a payment needs of the order service
// (daemon/orders): the stored order, a lock per order, and one method per
// outcome, each of which records the outcome and moves the order's state
// in one transaction. The collector makes the network calls, never inside
// a transaction, and decides which outcome a reply is.
type Orders interface {
	// Lock serialises the network work of one order.
	Lock(oid string) (unlock func())
	// Load returns the stored order.
	Load(oid string) (*ordermsg.Order, error)
	// Kick asks for oid's outstanding work to be looked at within after.
	Kick(oid string, after time.Duration)

	// Opened records that the provider has attempt n and where to pay it.
	Opened(oid string, n int, c Created) (*ordermsg.Order, error)
	// Reported records what the provider said about attempt n.
	Reported(oid string, n int, r Report) (*ordermsg.Order, error)
	// Reissued records r about attempt n, whose pay link was lost, and
	// starts a new attempt when the order still waits for n.
	Reissued(oid string, n int, r Report) (*ordermsg.Order, error)
	// Failed records that attempt n failed; released says a credit
	// attempt holds nothing that needs releasing.
	Failed(oid string, n int, why string, released bool) (*ordermsg.Order, error)
	// Held records a granted credit hold, which pays the order.
	Held(oid string, n int, token string) (*ordermsg.Order, error)
	// Captured records a credit capture: refusal is nil when the credit
	// was taken.
	Captured(oid string, n int, refusal error) error
	// Released records a credit release; captured says the cloud refused
	// because the hold was captured.
	Released(oid string, n int, refusal error, captured bool) error
}

// Collector collects the payments of orders: it creates provider payments
// and credit holds, polls, captures and releases.
type Collector struct {
	pay          Provider
	credit       Credit
	orders       Orders
	pollInterval time.Duration
	holdTTL      time.Duration
}

// NewCollector collects through p for orders. pollInterval is the first
// poll after a payment opens; holdTTL the lifetime asked for a credit hold.
func NewCollector(p Providers, orders Orders, pollInterval, holdTTL time.Duration) *Collector {
	return &Collector{pay: p.Payment, credit: p.Credit, orders: orders, pollInterval: pollInterval, holdTTL: holdTTL}
}

// Work is what an order may still owe after its reply.
type Work int

// Kinds of Work.
const (
	WorkPoll    Work = iota + 1 // ask the provider about a payment
	WorkCapture                 // take a credit hold that paid
	WorkRelease                 // cancel a credit hold of a closed order
)

// WorkFor lists the work o's attempts need at now; provider payments of a
// closed order are still asked about for latePoll, so a payment made at
// the last second is recorded.
func WorkFor(o *ordermsg.Order, now time.Time, latePoll time.Duration) map[int]Work {
	var out map[int]Work
	add := func(n int, k Work) {
		if out == nil {
			out = map[int]Work{}
		}
		out[n] = k
	}
	for _, a := range o.Attempts {
		switch a.Provider {
		case ordermsg.ProviderLocal:
		case ordermsg.ProviderCredit:
			switch {
			case a.State == ordermsg.AttemptPaid && o.PaidBy == a.N && !a.Settled:
				add(a.N, WorkCapture)
			case a.State != ordermsg.AttemptPaid && o.Final() && !a.Released:
				add(a.N, WorkRelease)
			}
		default:
			switch a.State {
			case ordermsg.AttemptSending, ordermsg.AttemptOpen, ordermsg.AttemptSuperseded:
				if o.Status == ordermsg.StatusPending || (o.ClosedAt != nil && now.Sub(*o.ClosedAt) < latePoll) {
					add(a.N, WorkPoll)
				}
			}
		}
	}
	return out
}

func internal(op string, err error) error {
	var de *devmsg.Error
	if errors.As(err, &de) {
		return de
	}
	return fmt.Errorf("%s: %w", op, err)
}

// Collect makes the network call the order's newest attempt is waiting
// for: a credit authorization or a provider payment. fresh says the
// attempt was written by this very request, so the provider cannot know it
// yet. The error is what the device hears.
func (c *Collector) Collect(ctx context.Context, oid string, fresh bool) (*ordermsg.Order, error) {
	unlock := c.orders.Lock(oid)
	defer unlock()
	o, err := c.orders.Load(oid)
	if err != nil {
		return nil, internal("getPayInfo", err)
	}
	a := o.LastAttempt()
	if o.Status != ordermsg.StatusPending || a == nil || a.State != ordermsg.AttemptSending {
		return o, nil
	}
	if a.Provider == ordermsg.ProviderCredit {
		return c.authorize(ctx, o, a.N)
	}
	return c.create(ctx, o, a.N, fresh)
}

func productName(o *ordermsg.Order) string {
	name := o.Lines[0].Name
	if name == "" {
		name = o.Lines[0].GID
	}
	if len(o.Lines) > 1 {
		name = fmt.Sprintf("%s +%d", name, len(o.Lines)-1)
	}
	for utf8.RuneCountInString(name) > 60 {
		r := []rune(name)
		name = string(r[:60])
	}
	return name
}

func providerDown(err error) *devmsg.Error {
	return devmsg.Errorf(devmsg.CodeOffline, "the payment provider cannot be reached (%v); ask again in a moment or pay another way", err)
}

// create sends attempt n to the provider. A retry (not fresh) asks the
// provider first: a payment it already has is never created twice.
func (c *Collector) create(ctx context.Context, o *ordermsg.Order, n int, fresh bool) (*ordermsg.Order, error) {
	a := o.Attempt(n)
	if !fresh {
		r, err := c.pay.Query(ctx, a.Ref)
		if err != nil {
			return o, providerDown(err)
		}
		if r.Found {
			// An earlier send reached the provider but its reply (and the
			// pay link) was lost. If it is not paid, a new attempt with a
			// new number starts; the old one is still watched.
			o2, err := c.orders.Reissued(o.OID, n, r)
			if err != nil {
				return o, internal("getPayInfo", err)
			}
			if la := o2.LastAttempt(); o2.Status == ordermsg.StatusPending && la.N != n && la.State == ordermsg.AttemptSending {
				return c.create(ctx, o2, la.N, true)
			}
			return o2, nil
		}
	}
	res, err := c.pay.Create(ctx, CreateRequest{Ref: a.Ref, OID: o.OID, Amount: o.AmountTotal, Method: a.Method, Product: productName(o)})
	if err != nil {
		if errors.Is(err, ErrUnavailable) || ctx.Err() != nil {
			// Unknown outcome: the attempt stays "sending"; polling and the
			// terminal's retry find out.
			c.orders.Kick(o.OID, 0)
			return o, providerDown(err)
		}
		o2, uerr := c.orders.Failed(o.OID, n, "provider refused: "+err.Error(), false)
		if uerr != nil {
			return o, internal("getPayInfo", uerr)
		}
		return o2, devmsg.Errorf(devmsg.CodeInternal, "the payment provider refused the payment (%v); pay another way", err)
	}
	o2, err := c.orders.Opened(o.OID, n, res)
	if err != nil {
		return o, internal("getPayInfo", err)
	}
	c.orders.Kick(o.OID, c.pollInterval)
	return o2, nil
}

// authorize asks the cloud for a credit hold. A granted hold pays the order;
// the capture follows in the background.
func (c *Collector) authorize(ctx context.Context, o *ordermsg.Order, n int) (*ordermsg.Order, error) {
	a := o.Attempt(n)
	tok, err := c.credit.Authorize(ctx, a.Account, o.AmountTotal, o.OID, c.holdTTL)
	if err == nil {
		o2, uerr := c.orders.Held(o.OID, n, tok)
		if uerr != nil {
			return o, internal("getPayInfo: credit", uerr)
		}
		return o2, nil
	}
	var reply *devmsg.Error
	release := true // nothing is held
	switch {
	case errors.Is(err, upstream.ErrInsufficientCredit):
		reply = devmsg.Errorf(devmsg.CodeForbidden, "insufficient_credit: the account does not have %d of store credit available; pay another way", o.AmountTotal)
	case upstream.IsRetryable(err) || ctx.Err() != nil:
		// The hold may exist (a lost reply): released when the order closes.
		release = false
		reply = devmsg.Errorf(devmsg.CodeOffline, "store credit needs the cloud, which cannot be reached (%v); pay another way", err)
	default:
		reply = ordermsg.BadRequest("store credit refused: %v", err)
	}
	o2, uerr := c.orders.Failed(o.OID, n, reply.Msg, release)
	if uerr != nil {
		return o, internal("getPayInfo: credit", uerr)
	}
	return o2, reply
}

// Do does work w for attempt n of oid. The caller holds the order's lock.
func (c *Collector) Do(ctx context.Context, oid string, n int, w Work) error {
	switch w {
	case WorkPoll:
		return c.poll(ctx, oid, n)
	case WorkCapture:
		return c.capture(ctx, oid, n)
	case WorkRelease:
		return c.release(ctx, oid, n)
	}
	return fmt.Errorf("unknown payment work %d", w)
}

func (c *Collector) poll(ctx context.Context, oid string, n int) error {
	o, err := c.orders.Load(oid)
	if err != nil {
		return err
	}
	a := o.Attempt(n)
	if c.pay == nil || c.pay.Name() != a.Provider {
		return nil
	}
	r, err := c.pay.Query(ctx, a.Ref)
	if err != nil {
		return err
	}
	_, err = c.orders.Reported(oid, n, r)
	return err
}

func (c *Collector) capture(ctx context.Context, oid string, n int) error {
	o, err := c.orders.Load(oid)
	if err != nil || c.credit == nil {
		return err
	}
	a := o.Attempt(n)
	cerr := c.credit.Capture(ctx, a.Token, o.AmountTotal)
	if cerr != nil && (upstream.IsRetryable(cerr) || ctx.Err() != nil) {
		return cerr
	}
	return c.orders.Captured(oid, n, cerr)
}

func (c *Collector) release(ctx context.Context, oid string, n int) error {
	o, err := c.orders.Load(oid)
	if err != nil || c.credit == nil {
		return err
	}
	a := o.Attempt(n)
	token := a.Token
	if token == "" {
		// The authorization's reply was lost: the cloud dedupes holds by
		// order id, so asking again names the same hold (or makes one we
		// cancel at once). Never when another attempt holds a token: that
		// is the same hold and it may be the one that paid.
		shared := false
		for _, b := range o.Attempts {
			if b.Provider == ordermsg.ProviderCredit && b.Token != "" {
				shared = true
			}
		}
		if !shared {
			tok, err := c.credit.Authorize(ctx, a.Account, o.AmountTotal, o.OID, time.Minute)
			switch {
			case err == nil:
				token = tok
			case upstream.IsRetryable(err) || ctx.Err() != nil:
				return err
			}
		}
	}
	var cerr error
	if token != "" {
		cerr = c.credit.Cancel(ctx, token)
		if cerr != nil && (upstream.IsRetryable(cerr) || ctx.Err() != nil) {
			return cerr
		}
	}
	var rej *upstream.RejectedError
	captured := errors.As(cerr, &rej) && rej.Status == 409
	return c.orders.Released(oid, n, cerr, captured)
}
