package httpapi

import (
	"context"
	"io"
	"net/http"
	"time"

	"github.com/storebox/storebox/daemon/devices"
	"github.com/storebox/storebox/daemon/doors"
	"github.com/storebox/storebox/daemon/printing"
	"github.com/storebox/storebox/daemon/store"
	"github.com/storebox/storebox/daemon/store/admission"
	"github.com/storebox/storebox/daemon/store/outbox"
	"github.com/storebox/storebox/protocol/ordermsg"
	"github.com/storebox/storebox/sync/uploader"
)

// Parts are the daemon's components the API reads and acts on, as the
// daemon hands them over at construction. An optional part that is not
// configured is a nil interface.
type Parts struct {
	Info  Info
	Ready func() bool // every listener up

	Store     Store
	Outbox    Outbox
	Admission Admission
	Catalog   Catalog
	Devices   Devices
	Orders    Orders

	Doors    Doors    // nil without an MQTT broker
	Scales   Scales   // nil without [[scales]]
	Printers Printers // nil without [[printers]]
	Uploader Uploader // nil without an upstream

	Config func() ConfigStatus // the running configuration's source (fleet)
	Reload func() error        // read the configuration file again and apply it (SIGHUP's work)

	Metrics *Metrics
}

// Info is what the daemon says about itself.
type Info struct {
	StoreID, StoreName, Version string
	Started                     time.Time
	// UpstreamConfigured: events have somewhere to go (upstream.url or NATS).
	UpstreamConfigured bool
}

// Store is the catalog size.
type Store interface {
	GoodsCount() int
}

// Outbox is the ledger outbox's depth, age and dead letters.
type Outbox interface {
	QueueStats() (outbox.QueueStats, error)
}

// Admission is the device records: who asked to log in, and the
// technician's approvals and rejections.
type Admission interface {
	Devices() ([]admission.Device, error)
	Pending(limit int) ([]admission.Device, int, error)
	ForgetPending() (int, error)
	SetDeviceStatus(id, status string) (admission.Device, error)
}

// Catalog imports and exports catalog files (PROTOCOL.md §6).
type Catalog interface {
	Import(r io.Reader, name, format string, opt store.ImportOptions) (store.ImportResult, error)
	Export(w io.Writer, format string) error
}

// Printers is the receipt printers (PROTOCOL.md §7.2): their state, a test
// page, and a receipt printed again.
type Printers interface {
	States() []printing.State
	TestPage(id string) error
	// Reprint queues a copy of paid order oid on printer id, or on the
	// printers of the order's terminal when id is "", and names them.
	Reprint(oid, id string) ([]string, error)
}

// Devices is the device listener's sessions.
type Devices interface {
	Counts() (byKind map[string]int, conns int)
	SessionsLimit(n int) []devices.SessionInfo
	Disconnect(equipID, reason string)
}

// Orders is the order service.
type Orders interface {
	Counts() map[string]int
	Recent(n int) []ordermsg.Order
	NeedsReview() []ordermsg.Order
	List(status string, limit int) []ordermsg.Order
	TestMode() bool
	PayPageHandler() http.Handler
	NotifyHandler() http.Handler
}

// Doors is the door service.
type Doors interface {
	Snapshot() []doors.DoorStatus
	Stats() doors.Stats
	Open(ctx context.Context, doorID, openID, reason string) error
}

// Scales is the serial scale drivers.
type Scales interface {
	Snapshot() []any
	Connected() int
	ReadErrors() map[string]uint64
}

// Uploader drains the outbox upstream.
type Uploader interface {
	Status() uploader.State
	SyncNowHandler() http.Handler
}
