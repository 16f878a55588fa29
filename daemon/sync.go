package daemon

import (
	"io"

	"github.com/storebox/storebox/daemon/store"
	"github.com/storebox/storebox/daemon/store/outbox"
	"github.com/storebox/storebox/sync/catalogfeed"
	"github.com/storebox/storebox/sync/uploader"
	"github.com/storebox/storebox/sync/upstream"
)

// OutboxQueue is the store's outbox as the uploader drains it: the
// daemon's uploader and `storebox sync now` without a daemon use it.
func OutboxQueue(st *store.Store) uploader.Queue { return outboxQueue{st.Outbox(), st} }

type outboxQueue struct {
	*outbox.Queue
	st *store.Store
}

var _ uploader.Rebaser = outboxQueue{}

func (q outboxQueue) RebaseDue() (string, error) { return q.st.RebaseDue() }

func (q outboxQueue) Rebase(cloudLast uint64) (uploader.Rebase, error) {
	rb, _, err := q.st.RebaseLedger(cloudLast)
	return uploader.Rebase{Reason: rb.Reason, FirstSeq: rb.FirstSeq, Events: rb.Events, OldFirst: rb.OldFirst, Changed: rb.Changed}, err
}

func (q outboxQueue) QueueStats() (uploader.QueueStats, error) {
	s, err := q.Queue.QueueStats()
	return uploader.QueueStats{Depth: s.Depth, Oldest: s.Oldest, DeadLetters: s.DeadLetters, LastSeq: s.LastSeq}, err
}

// buildSync builds the upstream client, the outbox uploader and the
// catalog feed when an upstream is configured (upstream.url, or
// upstream.kind = "nats").
func (d *Daemon) buildSync() error {
	c := d.cfg
	if c.Upstream.URL == "" && c.Upstream.Kind != "nats" {
		return nil
	}
	// With kind = "nats" the ledger goes to NATS; the HTTP cloud, if also
	// configured, still serves the catalog feed and credits.
	if c.Upstream.URL != "" {
		d.upstream = upstream.New(c.Upstream.URL, c.StoreID, c.Upstream.Secret, c.Upstream.Timeout.Duration)
		d.feed = &catalogfeed.Feed{Source: d.upstream, Store: d.store, Interval: c.Upstream.CatalogInterval.Duration, Logger: d.log.With("component", "catalogfeed")}
	}
	sink, err := d.sink()
	if err != nil {
		return err
	}
	ucfg := uploader.Config{StoreID: c.StoreID, BatchEvents: c.Upstream.BatchEvents, Logger: d.log.With("component", "uploader")}
	if d.feed != nil {
		ucfg.Reconnected = d.feed
	}
	ucfg.Clock = d.cloudClock // read at each Status: the fleet's link is built later
	d.uploader = uploader.New(OutboxQueue(d.store), sink, ucfg)
	d.sup.Add("uploader", &uploaderService{d.uploader, sink})
	if d.feed != nil {
		d.sup.Add("catalogfeed", d.feed)
	}
	return nil
}

// uploaderService runs the uploader and closes its sink (a NATS
// connection) when it stops.
type uploaderService struct {
	*uploader.Uploader
	sink uploader.Sink
}

// Close closes the sink when it holds a connection.
func (u *uploaderService) Close() error {
	if c, ok := u.sink.(io.Closer); ok {
		return c.Close()
	}
	return nil
}
