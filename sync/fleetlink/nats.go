package fleetlink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/storebox/storebox/protocol/fleetmsg"
	"github.com/storebox/storebox/protocol/ledger"
	"github.com/storebox/storebox/sync/upstream"
)

// The key-value buckets of upstream.kind = "nats" (UPSTREAM.md §7), keyed by store id.
const (
	BucketHealth = "storebox_health"
	BucketConfig = "storebox_config"
)

// NATSConfig says where the fleet buckets are.
type NATSConfig struct {
	URL     string // nats://host:4222
	StoreID string // the key in both buckets
	Secret  string // upstream.secret: signs health, verifies configuration
	Timeout time.Duration
	Logger  *slog.Logger
	// Now is the clock used to sign; nil: time.Now.
	Now func() time.Time
}

// NATS is the fleet over JetStream key-value buckets: health is put in
// storebox_health and the desired configuration read from storebox_config,
// both under the store id, with X-Storebox-Signature in a message header.
// KV entries carry no headers, so both go through the buckets' streams.
//
// A configuration stays in its bucket; its signature is judged against the
// time the server stored it, not the time it is read, so a document signed
// and put a day ago is still good while a stale signature put today is not.
type NATS struct {
	cfg     NATSConfig
	nc      *nats.Conn
	js      jetstream.JetStream
	log     *slog.Logger
	changed chan struct{}

	// clock follows the server's clock from the time it stores each health
	// snapshot (UPSTREAM.md §2): there is no Date over NATS.
	clock upstream.Follower

	mu      sync.Mutex
	buckets map[string]jetstream.Stream
	lastSeq uint64 // the config message returned last
}

var natsKey = regexp.MustCompile(`^[-/_=.a-zA-Z0-9]+$`)

// DialNATS connects (in the background if the server is not up yet: calls
// fail as retryable until it is).
func DialNATS(cfg NATSConfig) (*NATS, error) {
	if !natsKey.MatchString(cfg.StoreID) {
		return nil, fmt.Errorf("store_id %q cannot be a NATS key (letters, digits, - _ = . / only)", cfg.StoreID)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = upstream.DefaultTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	nc, err := nats.Connect(cfg.URL,
		nats.Name("storebox fleet "+cfg.StoreID),
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		// Latest wins: a snapshot that cannot go now is not worth keeping.
		nats.ReconnectBufSize(-1),
	)
	if err != nil {
		return nil, fmt.Errorf("nats connect %s: %w", cfg.URL, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("nats jetstream: %w", err)
	}
	return &NATS{cfg: cfg, nc: nc, js: js, log: cfg.Logger, changed: make(chan struct{}, 1), buckets: map[string]jetstream.Stream{}}, nil
}

func (n *NATS) now() time.Time {
	if n.cfg.Now != nil {
		return n.cfg.Now()
	}
	return time.Now()
}

func retryable(op string, err error) error { return &upstream.RetryableError{Op: op, Err: err} }

// bucket returns the stream behind a KV bucket, creating the bucket (one
// value per key) when it does not exist.
func (n *NATS) bucket(ctx context.Context, name string) (jetstream.Stream, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if st := n.buckets[name]; st != nil {
		return st, nil
	}
	if !n.nc.IsConnected() {
		return nil, fmt.Errorf("not connected to %s (%s)", n.cfg.URL, n.nc.Status())
	}
	if _, err := n.js.KeyValue(ctx, name); errors.Is(err, jetstream.ErrBucketNotFound) {
		if _, err := n.js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: name, History: 1, Storage: jetstream.FileStorage}); err != nil && !errors.Is(err, jetstream.ErrBucketExists) {
			return nil, fmt.Errorf("create bucket %s: %w", name, err)
		}
		n.log.Info("created JetStream key-value bucket", "bucket", name)
	} else if err != nil {
		return nil, fmt.Errorf("bucket %s: %w", name, err)
	}
	st, err := n.js.Stream(ctx, "KV_"+name)
	if err != nil {
		return nil, fmt.Errorf("bucket %s: %w", name, err)
	}
	n.buckets[name] = st
	return st, nil
}

func subject(bucket, key string) string { return "$KV." + bucket + "." + key }

// Clock is this box's clock against the NATS server's, measured from the
// time the server stored each health snapshot.
func (n *NATS) Clock() upstream.ClockState { return n.clock.State() }

// CloudNow is the server's time as well as this box knows it: its own
// clock, corrected once a stored snapshot's time showed it off.
func (n *NATS) CloudNow() time.Time { return n.clock.SigningTime(n.now()) }

// PutHealth puts the snapshot under the store id in storebox_health. The
// server's time on the stored message measures this box's clock; a
// snapshot signed with a time that measurement shows over 2 minutes off
// is put once more, signed with the server's time (latest wins).
func (n *NATS) PutHealth(ctx context.Context, body []byte) error {
	const op = "put health (nats)"
	ctx, cancel := context.WithTimeout(ctx, n.cfg.Timeout)
	defer cancel()
	st, err := n.bucket(ctx, BucketHealth)
	if err != nil {
		return retryable(op, err)
	}
	applied, err := n.putHealth(ctx, op, st, body)
	if err != nil {
		return err
	}
	if c := n.clock.State(); c.Corrected && c.Offset != applied {
		_, err = n.putHealth(ctx, op, st, body)
	}
	return err
}

// putHealth publishes one signed snapshot, measures the clock from the
// stored message's time, and returns the correction its signature applied.
func (n *NATS) putHealth(ctx context.Context, op string, st jetstream.Stream, body []byte) (time.Duration, error) {
	m := nats.NewMsg(subject(BucketHealth, n.cfg.StoreID))
	m.Data = body
	m.Header.Set(ledger.HeaderStore, n.cfg.StoreID)
	sent := n.now()
	signAt := n.clock.SigningTime(sent)
	m.Header.Set(ledger.HeaderSignature, ledger.Sign(n.cfg.Secret, signAt, body))
	ack, err := n.js.PublishMsg(ctx, m)
	if err != nil {
		if errors.Is(err, nats.ErrMaxPayload) {
			return 0, &upstream.RejectedError{Op: op, Status: 413, Body: err.Error()}
		}
		return 0, retryable(op, err)
	}
	recv := n.now()
	// The ack carries no time; the stored message does (one more request
	// per snapshot). Without it the clock is just not measured this time.
	// Bounded apart: a server that does not answer it (no permission for
	// the stream's message API) must not hold up the snapshots.
	gctx, cancel := context.WithTimeout(ctx, min(n.cfg.Timeout, 2*time.Second))
	defer cancel()
	if sm, err := st.GetMsg(gctx, ack.Sequence); err == nil {
		n.clock.Observe(sm.Time, sent, recv)
	} else {
		n.log.Debug("health snapshot's server time not read; clock not measured", "err", err)
	}
	return sent.Sub(signAt), nil
}

// FetchConfig reads the store's entry in storebox_config. No entry, a
// deleted one, or the message returned last time is nothing new.
func (n *NATS) FetchConfig(ctx context.Context, _ fleetmsg.Version) (Reply, error) {
	const op = "desired config (nats)"
	ctx, cancel := context.WithTimeout(ctx, n.cfg.Timeout)
	defer cancel()
	st, err := n.bucket(ctx, BucketConfig)
	if err != nil {
		return Reply{}, retryable(op, err)
	}
	m, err := st.GetLastMsgForSubject(ctx, subject(BucketConfig, n.cfg.StoreID))
	switch {
	case errors.Is(err, jetstream.ErrMsgNotFound):
		return Reply{NotModified: true}, nil
	case err != nil:
		return Reply{}, retryable(op, err)
	}
	if op := m.Header.Get("KV-Operation"); op == "DEL" || op == "PURGE" {
		return Reply{NotModified: true}, nil
	}
	n.mu.Lock()
	seen := m.Sequence == n.lastSeq
	n.lastSeq = m.Sequence
	n.mu.Unlock()
	if seen {
		return Reply{NotModified: true}, nil
	}
	if len(m.Data) > fleetmsg.MaxDocument {
		return Reply{}, tooLarge(len(m.Data))
	}
	if err := verify(n.cfg.Secret, m.Header.Get(ledger.HeaderSignature), m.Data, m.Time); err != nil {
		return Reply{}, err
	}
	return Reply{Body: m.Data}, nil
}

// Changed signals an update of the store's entry in storebox_config (see
// Watch).
func (n *NATS) Changed() <-chan struct{} { return n.changed }

// Watch follows the store's configuration entry until ctx ends and signals
// Changed on every update, re-establishing the watch when it breaks.
func (n *NATS) Watch(ctx context.Context) {
	for ctx.Err() == nil {
		if err := n.watchOnce(ctx); err != nil && ctx.Err() == nil {
			n.log.Debug("watch desired configuration", "err", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(2 * time.Second):
		}
	}
}

func (n *NATS) watchOnce(ctx context.Context) error {
	bctx, cancel := context.WithTimeout(ctx, n.cfg.Timeout)
	_, err := n.bucket(bctx, BucketConfig)
	var kv jetstream.KeyValue
	if err == nil {
		kv, err = n.js.KeyValue(bctx, BucketConfig)
	}
	cancel()
	if err != nil {
		return err
	}
	// Not UpdatesOnly: a put made while the watch was being (re)established
	// arrives as the initial value instead of being missed until the next
	// poll; an unchanged entry costs one NotModified fetch.
	w, err := kv.Watch(ctx, n.cfg.StoreID)
	if err != nil {
		return err
	}
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-w.Updates():
			if !ok {
				return errors.New("watcher closed")
			}
			if e == nil {
				continue
			}
			select {
			case n.changed <- struct{}{}:
			default:
			}
		}
	}
}

// Close drops the connection.
func (n *NATS) Close() { n.nc.Close() }
