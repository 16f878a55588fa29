package fleetconsole

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/storebox/storebox/protocol/fleetmsg"
	"github.com/storebox/storebox/sync/cloudref/cloudkit"
)

// What a store's details view keeps besides the latest snapshot: the
// history the snapshots alone do not carry.
const (
	maxAlertEvents = 50 // alerts raised and cleared, newest last
	maxRefusals    = 20 // documents refused, by the store or by the cloud's check
	maxOlderDocs   = 8  // accepted documents before the desired one, to show the applied one
)

// AlertEvent is an alert appearing in, or leaving, a store's snapshots.
type AlertEvent struct {
	At      time.Time `json:"at"`
	Change  string    `json:"change"` // "raised" or "cleared"
	Kind    string    `json:"kind"`
	Subject string    `json:"subject"`
	Message string    `json:"message,omitempty"`
}

// Refusal is a desired configuration that was not taken: By "store" (its
// snapshot reported the refusal) or "cloud" (the admin PUT was refused).
type Refusal struct {
	At      time.Time `json:"at"`
	By      string    `json:"by"`
	Version string    `json:"version,omitempty"` // "" when unreadable
	Reason  string    `json:"reason"`
}

// recordHealth adds what changed between st's previous snapshot and h to
// st's history; the caller holds c.mu and sets st.Health afterwards.
func recordHealth(st *storeState, h *fleetmsg.Health, now time.Time) {
	type key struct{ kind, subject string }
	var before map[key]fleetmsg.Alert
	if st.Health != nil && len(st.Health.Alerts) > 0 {
		before = make(map[key]fleetmsg.Alert, len(st.Health.Alerts))
		for _, a := range st.Health.Alerts {
			before[key{a.Kind, a.Subject}] = a
		}
	}
	var raised []AlertEvent
	for _, a := range h.Alerts {
		k := key{a.Kind, a.Subject}
		if _, ok := before[k]; ok {
			delete(before, k)
			continue
		}
		at := a.Since
		if at.IsZero() {
			at = now
		}
		raised = append(raised, AlertEvent{At: at.UTC(), Change: "raised", Kind: a.Kind, Subject: a.Subject, Message: a.Message})
	}
	// What left the snapshot first, then what came: one snapshot's changes
	// read in that order.
	if len(before) > 0 {
		gone := make([]fleetmsg.Alert, 0, len(before))
		for _, a := range before {
			gone = append(gone, a)
		}
		slices.SortFunc(gone, func(a, b fleetmsg.Alert) int {
			if a.Kind != b.Kind {
				return cmpString(a.Kind, b.Kind)
			}
			return cmpString(a.Subject, b.Subject)
		})
		for _, a := range gone {
			st.AlertEvents = appendCapped(st.AlertEvents, AlertEvent{At: now.UTC(), Change: "cleared", Kind: a.Kind, Subject: a.Subject}, maxAlertEvents)
		}
	}
	slices.SortStableFunc(raised, func(a, b AlertEvent) int { return a.At.Compare(b.At) })
	for _, e := range raised {
		st.AlertEvents = appendCapped(st.AlertEvents, e, maxAlertEvents)
	}
	// A refusal is recorded when it starts or changes, not on every
	// snapshot that still reports it.
	if h.Config.Error == "" {
		return
	}
	version := ""
	for _, a := range h.Alerts {
		if a.Kind == fleetmsg.AlertConfigRefused {
			version = a.Subject
		}
	}
	if st.Health != nil && st.Health.Config.Error == h.Config.Error {
		return
	}
	st.Refusals = appendCapped(st.Refusals, Refusal{At: now.UTC(), By: "store", Version: version, Reason: h.Config.Error}, maxRefusals)
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// appendCapped appends v and keeps the last max entries.
func appendCapped[T any](s []T, v T, max int) []T {
	s = append(s, v)
	if len(s) > max {
		s = slices.Delete(s, 0, len(s)-max)
	}
	return s
}

// recordCloudRefusal keeps an admin PUT the cloud refused for a store it
// knows (a misspelt store id adds no row to the fleet page).
func (c *Console) recordCloudRefusal(store string, version fleetmsg.Version, reason string) {
	v := ""
	if version > 0 {
		v = fmt.Sprint(uint64(version))
	}
	c.mu.Lock()
	st := c.stores[store]
	if st == nil {
		c.mu.Unlock()
		return
	}
	st.Refusals = appendCapped(st.Refusals, Refusal{At: c.cfg.Now().UTC(), By: "cloud", Version: v, Reason: reason}, maxRefusals)
	c.touch(st)
	c.mu.Unlock()
}

// DocView is a desired configuration as the details view shows it: door
// secrets replaced by "(hidden)" (the page is open to anyone who reaches the
// cloud; the admin GET has the whole document).
type DocView struct {
	Version fleetmsg.Version `json:"version"`
	SetAt   time.Time        `json:"set_at"`
	Config  json.RawMessage  `json:"config"`
}

// Details is GET /stores/<s>/details: everything the fleet page's details
// view shows about one store.
type Details struct {
	ID         string           `json:"id"`
	Rev        uint64           `json:"rev"`
	ReceivedAt *time.Time       `json:"received_at"` // nil: never reported
	Health     *fleetmsg.Health `json:"health"`
	// Applied is the document the store reports as applied, when the cloud
	// still has it (the last accepted ones are kept); nil for the local file
	// or an older document.
	Applied     *DocView     `json:"applied"`
	Desired     *DocView     `json:"desired"`
	AlertEvents []AlertEvent `json:"alert_events"` // newest first
	Refusals    []Refusal    `json:"refusals"`     // newest first
	ConfigFault string       `json:"config_fault,omitempty"`
}

// Details returns what the cloud knows of store, false when nothing.
func (c *Console) Details(store string) (Details, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.stores[store]
	if st == nil {
		return Details{}, false
	}
	d := Details{ID: store, Rev: st.Rev, Health: st.Health, AlertEvents: []AlertEvent{}, Refusals: []Refusal{}, ConfigFault: c.fault}
	if st.Fault != "" {
		d.ConfigFault = st.Fault
	}
	if st.Health != nil {
		recv := st.ReceivedAt.UTC()
		d.ReceivedAt = &recv
		if v := st.Health.Config.Version; v > 0 && st.Health.Config.Source == fleetmsg.SourceRemote {
			for _, doc := range append([]*desiredDoc{st.Desired}, st.Older...) {
				if doc != nil && doc.Version == v {
					d.Applied = docView(doc)
					break
				}
			}
		}
	}
	if st.Desired != nil {
		d.Desired = docView(st.Desired)
	}
	for i := len(st.AlertEvents) - 1; i >= 0; i-- {
		d.AlertEvents = append(d.AlertEvents, st.AlertEvents[i])
	}
	for i := len(st.Refusals) - 1; i >= 0; i-- {
		d.Refusals = append(d.Refusals, st.Refusals[i])
	}
	return d, true
}

// docView copies doc with every door's secret hidden.
func docView(doc *desiredDoc) *DocView {
	cfg := doc.Config
	var m map[string]json.RawMessage
	if json.Unmarshal(doc.Config, &m) == nil {
		if raw, ok := m["doors"]; ok {
			var doors []map[string]any
			if json.Unmarshal(raw, &doors) == nil {
				for _, d := range doors {
					if _, ok := d["secret"]; ok {
						d["secret"] = "(hidden)"
					}
				}
				m["doors"], _ = json.Marshal(doors)
				cfg, _ = json.Marshal(m)
			}
		}
	}
	return &DocView{Version: doc.Version, SetAt: doc.SetAt, Config: cfg}
}

func (c *Console) getStoreDetails(w http.ResponseWriter, r *http.Request) {
	d, ok := c.Details(r.PathValue("store"))
	if !ok {
		cloudkit.WriteErr(w, http.StatusNotFound, "no_store", "the cloud knows no store "+r.PathValue("store"))
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	cloudkit.WriteJSON(w, http.StatusOK, d)
}

// getAdminSession answers 200 to the admin token: the fleet page checks a
// token with it before it offers the admin actions.
func (c *Console) getAdminSession(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	cloudkit.WriteJSON(w, http.StatusOK, map[string]bool{"admin": true})
}
