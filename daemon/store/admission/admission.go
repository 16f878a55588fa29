// Package admission keeps the store's device records: who tried to log in,
// and whether a technician approved or rejected them. It shares the store's
// bbolt file and write transactions, so an approval and its ledger event
// commit together.
package admission

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"go.etcd.io/bbolt"

	"github.com/storebox/storebox/daemon/store"
	"github.com/storebox/storebox/internal/nulltime"
	"github.com/storebox/storebox/protocol/ledger"
)

// Device admission states.
const (
	DevicePending  = "pending"
	DeviceApproved = "approved"
	DeviceRejected = "rejected"
)

// bucket holds equipId → Device JSON. store.Open creates it with the
// file's other buckets, so a new file has it before the first read.
var bucket = []byte("devices")

// DB is the part of the store the records need: read transactions, and
// write transactions that can append ledger events.
type DB interface {
	View(func(*bbolt.Tx) error) error
	Update(func(*store.Tx) error) error
	Batch(func(*store.Tx) error) error
}

// Records reads and writes device records in db.
type Records struct{ db DB }

// New returns the device records kept in db (normally the *store.Store).
func New(db DB) *Records { return &Records{db: db} }

// Device is what the store remembers about a device that tried to log in.
type Device struct {
	EquipID   string    `json:"equipId"`
	Kind      string    `json:"kind"`
	Name      string    `json:"name,omitempty"`
	MacID     string    `json:"mac_id,omitempty"`
	Status    string    `json:"status"`
	Addr      string    `json:"addr,omitempty"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
}

// MarshalJSON writes a time the device never had (approved before it was
// ever seen) as null. Records written so read back as the zero time.
func (d Device) MarshalJSON() ([]byte, error) {
	type plain Device
	return json.Marshal(struct {
		plain
		FirstSeen *time.Time `json:"first_seen"`
		LastSeen  *time.Time `json:"last_seen"`
	}{plain(d), nulltime.Of(d.FirstSeen), nulltime.Of(d.LastSeen)})
}

// Device returns one device record.
func (r *Records) Device(id string) (d Device, ok bool, err error) {
	err = r.db.View(func(tx *bbolt.Tx) error {
		v := tx.Bucket(bucket).Get([]byte(id))
		if v == nil {
			return nil
		}
		ok = true
		return json.Unmarshal(v, &d)
	})
	return d, ok, err
}

// SeeDevice records a login attempt: a new device is stored with status
// newStatus (pending under pairing, approved under open admission); a known
// device keeps its status and gets its last-seen details updated.
func (r *Records) SeeDevice(seen Device, newStatus string) (Device, error) {
	var out Device
	err := r.db.Batch(func(t *store.Tx) error {
		b := t.Bucket(bucket)
		now := time.Now().UTC()
		var d Device
		if v := b.Get([]byte(seen.EquipID)); v != nil {
			if err := json.Unmarshal(v, &d); err != nil {
				return err
			}
		} else {
			d = Device{EquipID: seen.EquipID, Status: newStatus, FirstSeen: now}
		}
		d.Kind, d.Addr, d.LastSeen = seen.Kind, seen.Addr, now
		if seen.Name != "" {
			d.Name = seen.Name
		}
		if seen.MacID != "" {
			d.MacID = seen.MacID
		}
		v, err := json.Marshal(d)
		if err != nil {
			return err
		}
		out = d
		return b.Put([]byte(d.EquipID), v)
	})
	return out, err
}

// SetDeviceStatus approves or rejects a device (creating its record if the
// technician approves ahead of the first login) and records the event.
func (r *Records) SetDeviceStatus(id, status string) (Device, error) {
	if status != DeviceApproved && status != DeviceRejected && status != DevicePending {
		return Device{}, fmt.Errorf("%w: status %q", store.ErrInvalid, status)
	}
	var out Device
	err := r.db.Update(func(t *store.Tx) error {
		b := t.Bucket(bucket)
		var d Device
		if v := b.Get([]byte(id)); v != nil {
			if err := json.Unmarshal(v, &d); err != nil {
				return err
			}
		} else {
			d = Device{EquipID: id, FirstSeen: time.Now().UTC()}
		}
		d.Status = status
		v, err := json.Marshal(d)
		if err != nil {
			return err
		}
		if err := b.Put([]byte(id), v); err != nil {
			return err
		}
		out = d
		typ := ledger.DeviceApproved
		if status == DeviceRejected {
			typ = ledger.DeviceRejected
		}
		_, err = t.AppendEvent(typ, map[string]string{"equipId": id, "kind": d.Kind, "status": status})
		return err
	})
	return out, err
}

// Devices lists every known device by equipId.
func (r *Records) Devices() ([]Device, error) {
	var out []Device
	err := r.db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucket).ForEach(func(_, v []byte) error {
			var d Device
			if err := json.Unmarshal(v, &d); err != nil {
				return err
			}
			out = append(out, d)
			return nil
		})
	})
	sort.Slice(out, func(i, j int) bool { return out[i].EquipID < out[j].EquipID })
	return out, err
}

// pendingMarker is how a pending record's status reads in its JSON; inside
// a string value the quotes would be escaped, so it cannot match there.
var pendingMarker = []byte(`"status":"pending"`)

// PendingDevices returns the devices waiting for approval, sorted by id. The
// status page asks every second and a store may know 10,000 approved
// e-labels, so only records that can be pending are decoded.
func (r *Records) PendingDevices() ([]Device, error) {
	out := []Device{}
	err := r.db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucket).ForEach(func(_, v []byte) error {
			if !bytes.Contains(v, pendingMarker) {
				return nil
			}
			var d Device
			if err := json.Unmarshal(v, &d); err != nil {
				return err
			}
			if d.Status == DevicePending {
				out = append(out, d)
			}
			return nil
		})
	})
	return out, err
}
