package daemon

import (
	"github.com/storebox/storebox/sync/uploader"
)

// sink picks where ledger batches go (upstream.kind).
func (d *Daemon) sink() (uploader.Sink, error) {
	return uploader.HTTPSink(d.Upstream), nil
}
