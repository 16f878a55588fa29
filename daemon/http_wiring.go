package daemon

import (
	"io"
	"net"

	"github.com/storebox/storebox/daemon/catalog"
	"github.com/storebox/storebox/daemon/httpapi"
	"github.com/storebox/storebox/daemon/store"
)

// httpParts hands the local API the parts it reads and acts on; a part
// that is not configured stays a nil interface.
func (d *Daemon) httpParts() httpapi.Parts {
	p := httpapi.Parts{
		Info: httpapi.Info{StoreID: d.cfg.StoreID, StoreName: d.cfg.StoreName, Version: d.version, Started: d.started,
			UpstreamConfigured: d.uploader != nil},
		Ready: d.Ready, Store: d.store, Outbox: d.store.Outbox(), Admission: d.admission, Catalog: catalogFiles{d.store}, Devices: d.devices, Orders: d.orders,
		Metrics: d.metrics, Config: d.configStatus, Reload: d.ReloadSource,
	}
	if d.doors != nil {
		p.Doors = d.doors
	}
	if d.scales != nil {
		p.Scales = d.scales
	}
	if d.printing != nil {
		p.Printers = printers{d.printing, d.orders}
	}
	if d.uploader != nil {
		p.Uploader = d.uploader
	}
	return p
}

// catalogFiles imports and exports catalog files on the store.
type catalogFiles struct{ st *store.Store }

func (c catalogFiles) Import(r io.Reader, name, format string, opt store.ImportOptions) (store.ImportResult, error) {
	return catalog.ImportReader(c.st, r, name, format, opt)
}

func (c catalogFiles) Export(w io.Writer, format string) error {
	return catalog.Export(c.st, w, format)
}

// payPageBase is the local HTTP server as devices on the LAN reach it.
func payPageBase(listen string) string {
	host, port, _ := net.SplitHostPort(listen)
	return httpapi.LANBase(host, port)
}
