// Package fleetlink carries the fleet exchanges of UPSTREAM.md §7 between a store
// and its cloud: health snapshots up, the desired configuration down. Two
// transports share one contract: HTTP through the signed upstream client,
// and NATS JetStream key-value buckets (upstream.kind = "nats").
//
// A desired configuration is returned only once its signature has been
// verified against upstream.secret; an unsigned, forged, stale or oversized
// reply is a *RefusedError (the daemon raises config_refused), while a cloud
// that cannot be reached is an upstream.RetryableError (a log line, no
// alert). What the document says is the caller's to check.
package fleetlink

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/storebox/storebox/protocol/fleetmsg"
	"github.com/storebox/storebox/protocol/ledger"
)

// Link is one store's fleet transport.
type Link interface {
	// PutHealth sends one snapshot (latest wins; not retried here).
	PutHealth(ctx context.Context, body []byte) error
	// FetchConfig returns the desired configuration when it may differ
	// from applied (0: none applied yet).
	FetchConfig(ctx context.Context, applied fleetmsg.Version) (Reply, error)
	// Changed signals that the desired configuration may have changed
	// since the last fetch; nil when the transport can only be polled.
	Changed() <-chan struct{}
	Close()
}

// Reply is a fetched desired configuration.
type Reply struct {
	// NotModified: nothing new to apply (304, no document, or the same
	// message as last time).
	NotModified bool
	// Body is the document, its signature verified.
	Body []byte
}

// RefusedError is a reply that must not be applied whatever it says.
type RefusedError struct {
	Reason string
	// Body is the refused reply (nil when it was too large to read), so
	// the refusal can name the document's version.
	Body []byte
}

func (e *RefusedError) Error() string { return "refused: " + e.Reason }

// verify checks the cloud's signature over body at time now.
func verify(secret, header string, body []byte, now time.Time) error {
	if header == "" {
		return &RefusedError{Reason: "unsigned reply (no " + ledger.HeaderSignature + " header)", Body: body}
	}
	if secret == "" {
		return &RefusedError{Reason: "cannot verify the signature: upstream.secret is not set", Body: body}
	}
	switch err := ledger.Verify(secret, header, body, now); {
	case err == nil:
		return nil
	case errors.Is(err, ledger.ErrBadSignature):
		return &RefusedError{Reason: "forged signature (it does not match upstream.secret)", Body: body}
	case errors.Is(err, ledger.ErrStaleSignature):
		// No age in the reason: the same document refused at every poll is
		// the same refusal, logged once.
		return &RefusedError{Reason: fmt.Sprintf("stale signature (more than %s from this box's clock)", ledger.MaxSkew), Body: body}
	default:
		return &RefusedError{Reason: fmt.Sprintf("bad signature header: %v", err), Body: body}
	}
}

func tooLarge(n int) *RefusedError {
	if n > 0 {
		return &RefusedError{Reason: fmt.Sprintf("document of %d bytes is over the %d-byte limit", n, fleetmsg.MaxDocument)}
	}
	return &RefusedError{Reason: fmt.Sprintf("document is over the %d-byte limit", fleetmsg.MaxDocument)}
}
