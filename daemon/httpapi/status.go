package httpapi

import (
	"time"

	"github.com/storebox/storebox/daemon/devices"
	"github.com/storebox/storebox/daemon/printing"
	"github.com/storebox/storebox/daemon/store/admission"
	"github.com/storebox/storebox/internal/nulltime"
)

// StatusSnapshot is GET /api/v1/status and the status page's live feed.
type StatusSnapshot struct {
	StoreID   string         `json:"store_id"`
	StoreName string         `json:"store_name"`
	Version   string         `json:"version"`
	Started   time.Time      `json:"started"`
	UptimeS   int64          `json:"uptime_s"`
	Ready     bool           `json:"ready"`
	Goods     int            `json:"goods"`
	Sessions  map[string]int `json:"sessions"`
	// DevicesOnline is the one count of each kind of device that answers
	// now, whatever way it is connected: device-protocol sessions, plus
	// the MQTT doors online and the serial scales that answer.
	DevicesOnline map[string]int        `json:"devices_online"`
	Conns         int                   `json:"connections"`
	Pending       []admission.Device    `json:"pending_devices"` // the first StatusPendingLimit by id
	PendingTotal  int                   `json:"pending_total"`   // every device waiting for approval
	Online        []devices.SessionInfo `json:"online"`
	Queue         QueueStatus           `json:"queue"`
	// Sections filled by the components that own them; absent or empty
	// when the component is not configured.
	Doors    []any            `json:"doors"`
	Scales   []any            `json:"scales"`
	Printers []printing.State `json:"printers"`
	Orders   OrdersStatus     `json:"orders"`
	TestMode bool             `json:"test_mode"`
	Config   ConfigStatus     `json:"config"`
}

// ConfigStatus is where the running configuration came from (fleet, UPSTREAM.md
// §7): storebox status, doctor and the page show it.
type ConfigStatus struct {
	Source        string         `json:"source"`  // file | remote
	Version       uint64         `json:"version"` // the applied remote document's, 0 for none
	AppliedAt     time.Time      `json:"applied_at"`
	RemoteEnabled bool           `json:"remote_enabled"` // fleet.remote_config with an upstream
	Refused       *ConfigRefusal `json:"refused,omitempty"`
	// The last health snapshot the cloud took, and why the last failed.
	HealthSentAt time.Time `json:"health_sent_at,omitzero"`
	HealthError  string    `json:"health_error,omitempty"`
}

// ConfigRefusal is the last remote document the daemon would not apply.
type ConfigRefusal struct {
	Version string    `json:"version"` // "" when unreadable
	Reason  string    `json:"reason"`
	At      time.Time `json:"at"`
}

// OrdersStatus summarises orders for the status page.
type OrdersStatus struct {
	Counts      map[string]int `json:"counts"`
	Recent      []any          `json:"recent"`
	NeedsReview []any          `json:"needs_review"`
}

// QueueStatus is the ledger outbox and its upload: GET /api/v1/sync and
// the status's "queue". Every member is always there, whether or not an
// upstream is configured; an unset time or error is null.
type QueueStatus struct {
	Upstream    bool       `json:"upstream_configured"`
	Online      bool       `json:"online"`
	Depth       int        `json:"depth"`
	OldestAgeS  float64    `json:"oldest_age_s"`
	Oldest      *time.Time `json:"oldest"`
	DeadLetters int        `json:"dead_letters"`
	LastSeq     uint64     `json:"last_seq"`
	Sent        uint64     `json:"sent"` // since the daemon started
	LastSuccess *time.Time `json:"last_success"`
	LastError   *string    `json:"last_error"` // null: none since the last success
	LastErrorAt *time.Time `json:"last_error_at"`
	// SignatureRejected: the cloud answers but refuses the signature.
	SignatureRejected bool       `json:"signature_rejected"`
	NextRetry         *time.Time `json:"next_retry"`
	// ClockOffsetS: this box's clock minus the cloud's, in seconds (absent
	// until known); ClockCorrected: signing with the cloud's time.
	ClockOffsetS   *int64 `json:"clock_offset_s,omitempty"`
	ClockCorrected bool   `json:"clock_corrected,omitempty"`
}

// StatusPendingLimit bounds the pending devices a status snapshot lists:
// the page and `storebox status` get it every second, and up to
// admission.MaxPending may wait. pending_total counts them all;
// `storebox devices` and GET /api/v1/devices list every one.
const StatusPendingLimit = 50

// status builds the snapshot with at most onlineLimit online sessions (all
// when negative); the counts always cover every session.
func (a *api) status(onlineLimit int) StatusSnapshot {
	p := a.p
	byKind, conns := p.Devices.Counts()
	s := StatusSnapshot{
		StoreID: p.Info.StoreID, StoreName: p.Info.StoreName, Version: p.Info.Version, Started: p.Info.Started.UTC(),
		UptimeS: int64(time.Since(p.Info.Started).Seconds()), Ready: p.Ready(), Goods: p.Store.GoodsCount(),
		Sessions: byKind, Conns: conns, Pending: []admission.Device{}, Online: p.Devices.SessionsLimit(onlineLimit),
		Doors: []any{}, Scales: []any{}, Printers: []printing.State{}, Orders: OrdersStatus{Counts: map[string]int{}, Recent: []any{}, NeedsReview: []any{}},
	}
	if pending, total, err := p.Admission.Pending(StatusPendingLimit); err == nil {
		s.Pending, s.PendingTotal = pending, total
	}
	s.Queue = a.queue()
	if p.Config != nil {
		s.Config = p.Config()
	}
	s.DevicesOnline = map[string]int{"terminal": 0, "scale": 0, "label": 0, "door": 0}
	for k, n := range byKind {
		s.DevicesOnline[k] += n
	}
	if p.Scales != nil {
		s.Scales = p.Scales.Snapshot()
		s.DevicesOnline["scale"] += p.Scales.Connected()
	}
	if p.Printers != nil {
		s.Printers = p.Printers.States()
	}
	if p.Doors != nil {
		for _, ds := range p.Doors.Snapshot() {
			s.Doors = append(s.Doors, ds)
			if ds.Online {
				s.DevicesOnline["door"]++
			}
		}
	}
	s.Orders.Counts = p.Orders.Counts()
	for _, o := range p.Orders.Recent(20) {
		s.Orders.Recent = append(s.Orders.Recent, o)
	}
	for _, o := range p.Orders.NeedsReview() {
		s.Orders.NeedsReview = append(s.Orders.NeedsReview, o)
	}
	s.TestMode = p.Orders.TestMode()
	return s
}

// queue is the outbox as the store and the uploader see it.
func (a *api) queue() QueueStatus {
	qs := QueueStatus{Upstream: a.p.Info.UpstreamConfigured}
	if q, err := a.p.Outbox.QueueStats(); err == nil {
		qs.Depth, qs.DeadLetters, qs.LastSeq, qs.Oldest = q.Depth, q.DeadLetters, q.LastSeq, nulltime.Of(q.Oldest)
		if !q.Oldest.IsZero() {
			qs.OldestAgeS = time.Since(q.Oldest).Seconds()
		}
	}
	if a.p.Uploader != nil {
		u := a.p.Uploader.Status()
		qs.Online, qs.Sent, qs.SignatureRejected = u.Online, u.Sent, u.SignatureRejected
		if u.LastError != "" {
			qs.LastError = &u.LastError
		}
		qs.LastSuccess, qs.LastErrorAt, qs.NextRetry = nulltime.Of(u.LastSuccess), nulltime.Of(u.LastErrorAt), nulltime.Of(u.NextRetry)
		qs.ClockOffsetS, qs.ClockCorrected = u.ClockOffsetS, u.ClockCorrected
	}
	return qs
}
