package daemon

import (
	"github.com/storebox/storebox/sync/natsink"
	"github.com/storebox/storebox/sync/uploader"
)

// sink picks where ledger batches go (upstream.kind).
func (d *Daemon) sink() (uploader.Sink, error) {
	c := d.cfg.Upstream
	if c.Kind == "nats" {
		return natsink.Dial(natsink.Config{URL: c.NATSURL, StoreID: d.cfg.StoreID, Stream: c.NATSStream, Subject: c.NATSSubject,
			CreateStream: true, Timeout: c.Timeout.Duration, Logger: d.log.With("component", "natsink")})
	}
	return uploader.HTTPSink(d.upstream), nil
}
