package fleetlink

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/storebox/storebox/protocol/fleetmsg"
	"github.com/storebox/storebox/sync/upstream"
)

// HTTP is the fleet over the cloud's HTTP API, through the signed upstream
// client (its timeout bounds every exchange, a hanging reply included).
type HTTP struct {
	Client *upstream.Client
	// Now is the clock used to judge a reply's signature; nil: time.Now.
	Now func() time.Time
}

// NewHTTP returns the HTTP link for c.
func NewHTTP(c *upstream.Client) *HTTP { return &HTTP{Client: c} }

// PutHealth sends PUT /v1/stores/<s>/health.
func (h *HTTP) PutHealth(ctx context.Context, body []byte) error {
	return h.Client.PutHealth(ctx, body)
}

// FetchConfig sends GET /v1/stores/<s>/config with If-None-Match. A 404 (the
// cloud keeps no document for this store, or has no fleet API) counts as
// nothing new.
func (h *HTTP) FetchConfig(ctx context.Context, applied fleetmsg.Version) (Reply, error) {
	etag := ""
	if applied > 0 {
		etag = fleetmsg.ETag(applied)
	}
	r, err := h.Client.DesiredConfig(ctx, etag, fleetmsg.MaxDocument)
	var rej *upstream.RejectedError
	switch {
	case errors.Is(err, upstream.ErrTooLarge):
		return Reply{}, tooLarge(0)
	case errors.As(err, &rej) && rej.Status == http.StatusNotFound:
		return Reply{NotModified: true}, nil
	case err != nil:
		return Reply{}, err
	case r.NotModified:
		return Reply{NotModified: true}, nil
	}
	now := h.Client.CloudNow // this box's clock, corrected by the cloud's Date
	if h.Now != nil {
		now = h.Now
	}
	if err := verify(h.Client.Secret, r.Signature, r.Body, now()); err != nil {
		return Reply{}, err
	}
	return Reply{Body: r.Body}, nil
}

// Changed is nil: HTTP is polled.
func (h *HTTP) Changed() <-chan struct{} { return nil }

// Close does nothing; the upstream client is shared.
func (h *HTTP) Close() {}
