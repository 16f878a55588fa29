// Package natsink is the uploader.Sink for upstream.kind = "nats": each
// ledger event is published to a NATS JetStream stream instead of being
// POSTed to the cloud.
//
// Each event is one message on "<subject>.<event type>" (subject defaults to
// "storebox.<store>.events"), body = the event's JSON, with headers
// Nats-Msg-Id = event id (JetStream's de-duplication key), Storebox-Store and
// Storebox-Seq. A batch is published asynchronously and acknowledged
// through the last event of the unbroken run of publish acks from its start,
// so events are stored in seq order per batch and a resend starts where the
// stream stopped.
//
// A new or restored data directory asks LastSeq (the Storebox-Seq of the
// stream's last message for the store's subjects) before its first publish
// and numbers its unsent events above it; its copies of events the old box
// already published carry the same Nats-Msg-Id and are dropped within the
// duplicate window.
//
// Exactly-once needs care: JetStream drops a repeated Nats-Msg-Id only
// within the stream's duplicate window (default 2 min on a stream you create
// yourself; 24 h on one this package creates). An event resent after a
// longer outage — e.g. its ack was lost and the store was offline for two
// days — is stored twice. Either size the window to cover the longest
// expected outage or have the consumer dedupe by event id (the id is in the
// header and the body).
//
// Errors follow sync/upstream's classes so the uploader treats them alike:
// a message over the server's max_payload is an *upstream.RejectedError with
// status 413 (the uploader shrinks the batch, then dead-letters the single
// event), everything else (disconnected, timeout, no stream) is retryable.
package natsink

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/storebox/storebox/protocol/ledger"
	"github.com/storebox/storebox/sync/upstream"
)

// Config says where to publish.
type Config struct {
	URL     string // nats://host:4222 (credentials may be in the URL)
	StoreID string
	Stream  string // default "STOREBOX"
	Subject string // default "storebox.<store>.events"; events go to <subject>.<type>
	// CreateStream creates the stream (subjects "<subject>.>", file storage,
	// DuplicateWindow) when it does not exist. An existing stream is never
	// changed.
	CreateStream    bool
	DuplicateWindow time.Duration // default 24h, for a created stream
	Timeout         time.Duration // per batch; default 10s
	Logger          *slog.Logger
}

// Sink publishes batches to JetStream.
type Sink struct {
	cfg Config
	nc  *nats.Conn
	js  jetstream.JetStream
	log *slog.Logger

	mu      sync.Mutex
	ensured bool
}

// Dial connects (in the background if the server is not up yet: Send then
// fails as retryable until it is).
func Dial(cfg Config) (*Sink, error) {
	if cfg.Stream == "" {
		cfg.Stream = "STOREBOX"
	}
	if cfg.Subject == "" {
		cfg.Subject = "storebox." + cfg.StoreID + ".events"
	}
	if cfg.DuplicateWindow <= 0 {
		cfg.DuplicateWindow = 24 * time.Hour
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	log := cfg.Logger
	nc, err := nats.Connect(cfg.URL,
		nats.Name("storebox "+cfg.StoreID),
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		// Fail publishes while disconnected instead of buffering them: the
		// outbox is the buffer, and the uploader's backoff the retry.
		nats.ReconnectBufSize(-1),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) { log.Warn("nats disconnected", "err", err) }),
		nats.ReconnectHandler(func(c *nats.Conn) { log.Info("nats reconnected", "url", c.ConnectedUrl()) }),
	)
	if err != nil {
		return nil, fmt.Errorf("nats connect %s: %w", cfg.URL, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("nats jetstream: %w", err)
	}
	return &Sink{cfg: cfg, nc: nc, js: js, log: log}, nil
}

// Close drops the connection.
func (s *Sink) Close() error { s.nc.Close(); return nil }

func retryable(op string, err error) error {
	return &upstream.RetryableError{Op: op, Err: err}
}

func (s *Sink) ensureStream(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ensured || !s.cfg.CreateStream {
		return nil
	}
	_, err := s.js.Stream(ctx, s.cfg.Stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		_, err = s.js.CreateStream(ctx, jetstream.StreamConfig{
			Name:       s.cfg.Stream,
			Subjects:   []string{s.cfg.Subject + ".>"},
			Storage:    jetstream.FileStorage,
			Duplicates: s.cfg.DuplicateWindow,
		})
		if err == nil {
			s.log.Info("created JetStream stream", "stream", s.cfg.Stream, "subjects", s.cfg.Subject+".>", "duplicate_window", s.cfg.DuplicateWindow)
		}
	}
	if err != nil {
		return retryable("nats stream "+s.cfg.Stream, err)
	}
	s.ensured = true
	return nil
}

// Ping checks the connection and the stream.
func (s *Sink) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	if err := s.ensureStream(ctx); err != nil {
		return err
	}
	if _, err := s.js.Stream(ctx, s.cfg.Stream); err != nil {
		return retryable("nats ping", err)
	}
	return nil
}

// LastSeq is the highest seq the stream holds for the store: the
// Storebox-Seq header of the stream's last message on "<subject>.>" (0 when
// it holds none, or the stream does not exist yet). A new or restored data
// directory numbers its unsent events above it (UPSTREAM.md §3).
func (s *Sink) LastSeq(ctx context.Context) (uint64, error) {
	const op = "nats last seq"
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	if !s.nc.IsConnected() {
		return 0, retryable(op, fmt.Errorf("not connected to %s (%s)", s.cfg.URL, s.nc.Status()))
	}
	st, err := s.js.Stream(ctx, s.cfg.Stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, retryable(op, err)
	}
	m, err := st.GetLastMsgForSubject(ctx, s.cfg.Subject+".>")
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, retryable(op, err)
	}
	seq, err := strconv.ParseUint(m.Header.Get("Storebox-Seq"), 10, 64)
	if err != nil {
		return 0, retryable(op, fmt.Errorf("last message on %s (stream seq %d) has no Storebox-Seq header: %w", m.Subject, m.Sequence, err))
	}
	return seq, nil
}

// Send publishes the batch's events and returns the seq through which
// JetStream acknowledged every event from the batch's start.
func (s *Sink) Send(ctx context.Context, b ledger.Batch) (uint64, error) {
	const op = "nats publish"
	if len(b.Events) == 0 {
		return 0, nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	if !s.nc.IsConnected() {
		return 0, retryable(op, fmt.Errorf("not connected to %s (%s)", s.cfg.URL, s.nc.Status()))
	}
	if err := s.ensureStream(ctx); err != nil {
		return 0, err
	}
	futures := make([]jetstream.PubAckFuture, 0, len(b.Events))
	var pubErr error
	for _, e := range b.Events {
		body, err := json.Marshal(e)
		if err != nil {
			pubErr = &upstream.RejectedError{Op: op, Status: 400, Body: err.Error()}
			break
		}
		m := nats.NewMsg(s.cfg.Subject + "." + e.Type)
		m.Data = body
		m.Header.Set("Storebox-Store", s.cfg.StoreID)
		m.Header.Set("Storebox-Seq", strconv.FormatUint(e.Seq, 10))
		f, err := s.js.PublishMsgAsync(m, jetstream.WithMsgID(e.ID), jetstream.WithExpectStream(s.cfg.Stream))
		if err != nil {
			pubErr = err
			break
		}
		futures = append(futures, f)
	}
	var acked uint64
	var ackErr error
	for i, f := range futures {
		if ackErr != nil {
			continue // still let the rest settle in the library; we only count the prefix
		}
		select {
		case <-f.Ok():
			acked = b.Events[i].Seq
		case err := <-f.Err():
			ackErr = err
		case <-ctx.Done():
			ackErr = ctx.Err()
		}
	}
	if ackErr == nil {
		ackErr = pubErr
	}
	if acked > 0 {
		if ackErr != nil {
			s.log.Warn("nats publish stopped part-way; the rest is resent", "acked_through", acked, "err", ackErr)
		}
		return acked, nil
	}
	if ackErr == nil {
		return 0, retryable(op, errors.New("no acknowledgement"))
	}
	var rej *upstream.RejectedError
	switch {
	case errors.As(ackErr, &rej):
		return 0, rej
	case errors.Is(ackErr, nats.ErrMaxPayload):
		return 0, &upstream.RejectedError{Op: op, Status: 413, Body: ackErr.Error()}
	}
	if parent := context.Cause(ctx); parent != nil && errors.Is(parent, context.Canceled) {
		return 0, fmt.Errorf("%s: %w", op, parent)
	}
	return 0, retryable(op, ackErr)
}
