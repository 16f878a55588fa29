// Package admission keeps the store's device records: who tried to log in,
// and whether a technician approved or rejected them. It shares the store's
// bbolt file and write transactions, so an approval and its ledger event
// commit together.
package admission

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"go.etcd.io/bbolt"

	"github.com/storebox/storebox/daemon/store"
	"github.com/storebox/storebox/internal/nulltime"
	"github.com/storebox/storebox/protocol/devmsg"
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

// pendingBucket indexes the pending records (equipId → nothing), so they
// are counted and listed without reading every approved e-label. The first
// write transaction creates it from the records (files written before it).
var pendingBucket = []byte("devices_pending")

// MaxPending is how many devices may wait for approval at once. A login
// from a new equipId while that many wait is refused (ErrPendingFull) and
// nothing is stored: without the cap, anyone on the LAN fills the store file
// and the status page with invented devices. 1,000 is more than a store
// switching on all its e-labels before approving them in bulk would reach
// in practice (they are approved by prefix or token, PROTOCOL §2.4), and
// keeps the pending records under ~0.5 MB.
const MaxPending = 1000

// seenEvery is how often a login rewrites a known device's record (last
// seen, address, name): the record is for the technician's eyes, and a
// device logging in many times a second must not write as often.
const seenEvery = time.Minute

// ErrPendingFull is SeeDevice's refusal of a new device at MaxPending.
var ErrPendingFull = errors.New("too many devices are waiting for approval")

// ErrNewRefused is SeeDevice's refusal of a new device its caller's
// newAllowed turned down (a client over its rate of new devices).
var ErrNewRefused = errors.New("new device refused")

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
// device keeps its status and gets its last-seen details updated. A new
// pending device while MaxPending wait is refused with ErrPendingFull.
// newAllowed, if not nil, is asked once before a device the store has no
// record of is counted or stored as pending; false refuses it with
// ErrNewRefused, having only read the store.
func (r *Records) SeeDevice(seen Device, newStatus string, newAllowed func() bool) (Device, error) {
	// Read first: a device seen within seenEvery, or a new one at the cap,
	// needs no write transaction, so a flood of logins (new ids at the cap,
	// or the same ids again and again) costs reads, not fsyncs and the
	// writer lock that orders share.
	var known Device
	found, full, refused := false, false, false
	err := r.db.View(func(tx *bbolt.Tx) error {
		if v := tx.Bucket(bucket).Get([]byte(seen.EquipID)); v != nil {
			found = true
			return json.Unmarshal(v, &known)
		}
		if newStatus != DevicePending {
			return nil
		}
		if newAllowed != nil && !newAllowed() {
			refused = true
			return nil
		}
		if idx := tx.Bucket(pendingBucket); idx != nil {
			full = countKeys(idx, MaxPending) >= MaxPending
		}
		return nil
	})
	switch {
	case err != nil:
		return Device{}, err
	case found && time.Since(known.LastSeen) < seenEvery:
		return known, nil
	case refused:
		return Device{}, ErrNewRefused
	case full:
		return Device{}, ErrPendingFull
	}
	var out Device
	err = r.db.Batch(func(t *store.Tx) error {
		b := t.Bucket(bucket)
		idx, err := pendingIndex(t.Tx)
		if err != nil {
			return err
		}
		now := time.Now().UTC()
		var d Device
		if v := b.Get([]byte(seen.EquipID)); v != nil {
			if err := json.Unmarshal(v, &d); err != nil {
				return err
			}
		} else {
			if newStatus == DevicePending && countKeys(idx, MaxPending) >= MaxPending {
				return ErrPendingFull
			}
			d = Device{EquipID: seen.EquipID, Status: newStatus, FirstSeen: now}
		}
		d.Kind, d.Addr, d.LastSeen = seen.Kind, seen.Addr, now
		if seen.Name != "" {
			d.Name = seen.Name
		}
		if seen.MacID != "" {
			d.MacID = seen.MacID
		}
		out = d
		return put(b, idx, d)
	})
	return out, err
}

// put writes d's record and keeps the pending index in step.
func put(b, idx *bbolt.Bucket, d Device) error {
	v, err := json.Marshal(d)
	if err != nil {
		return err
	}
	if err := b.Put([]byte(d.EquipID), v); err != nil {
		return err
	}
	if d.Status == DevicePending {
		return idx.Put([]byte(d.EquipID), nil)
	}
	return idx.Delete([]byte(d.EquipID))
}

// pendingIndex returns the pending index in a write transaction, building
// it from the records when the file has none yet.
func pendingIndex(tx *bbolt.Tx) (*bbolt.Bucket, error) {
	if idx := tx.Bucket(pendingBucket); idx != nil {
		return idx, nil
	}
	idx, err := tx.CreateBucket(pendingBucket)
	if err != nil {
		return nil, fmt.Errorf("create the pending devices index: %w", err)
	}
	err = tx.Bucket(bucket).ForEach(func(k, v []byte) error {
		if !bytes.Contains(v, pendingMarker) {
			return nil
		}
		var d Device
		if err := json.Unmarshal(v, &d); err != nil {
			return err
		}
		if d.Status == DevicePending {
			return idx.Put(k, nil)
		}
		return nil
	})
	return idx, err
}

// countKeys counts b's keys, stopping at limit.
func countKeys(b *bbolt.Bucket, limit int) int {
	n := 0
	c := b.Cursor()
	for k, _ := c.First(); k != nil && n < limit; k, _ = c.Next() {
		n++
	}
	return n
}

// SetDeviceStatus approves or rejects a device (creating its record if the
// technician approves ahead of the first login) and records the event.
func (r *Records) SetDeviceStatus(id, status string) (Device, error) {
	changed, err := r.SetStatuses(map[string]string{id: status})
	if err != nil {
		return Device{}, err
	}
	return changed[0], nil
}

// SetStatuses sets several devices' statuses (equipId → status) in one
// transaction, with their events: all of them or, on any error, none.
// It returns the devices whose status changed, by id, and with a single
// id that device whatever its status was (SetDeviceStatus's reply).
func (r *Records) SetStatuses(set map[string]string) ([]Device, error) {
	ids := make([]string, 0, len(set))
	for id, status := range set {
		if status != DeviceApproved && status != DeviceRejected && status != DevicePending {
			return nil, fmt.Errorf("%w: status %q", store.ErrInvalid, status)
		}
		if err := devmsg.CheckEquipID(id); err != nil {
			return nil, fmt.Errorf("%w: equipId %.40q… %v", store.ErrInvalid, id, err)
		}
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var out []Device
	err := r.db.Update(func(t *store.Tx) error {
		out = out[:0]
		b := t.Bucket(bucket)
		idx, err := pendingIndex(t.Tx)
		if err != nil {
			return err
		}
		for _, id := range ids {
			status := set[id]
			var d Device
			if v := b.Get([]byte(id)); v != nil {
				if err := json.Unmarshal(v, &d); err != nil {
					return err
				}
			} else {
				d = Device{EquipID: id, FirstSeen: time.Now().UTC()}
			}
			if d.Status == status && len(ids) > 1 {
				continue
			}
			d.Status = status
			if err := put(b, idx, d); err != nil {
				return fmt.Errorf("device %s: %w", id, err)
			}
			out = append(out, d)
			typ := ledger.DeviceApproved
			if status == DeviceRejected {
				typ = ledger.DeviceRejected
			}
			if _, err := t.AppendEvent(typ, map[string]string{"equipId": id, "kind": d.Kind, "status": status}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ForgetPending deletes every pending record in one transaction and says
// how many there were: after a flood of invented equipIds has filled the
// pending records (MaxPending), the technician clears them at once
// (`storebox devices forget-pending`); a real device that was among them
// is recorded again at its next login. Pending records have no ledger
// events, so none is written.
func (r *Records) ForgetPending() (int, error) {
	n := 0
	err := r.db.Update(func(t *store.Tx) error {
		n = 0
		b := t.Bucket(bucket)
		idx, err := pendingIndex(t.Tx)
		if err != nil {
			return err
		}
		var ids [][]byte
		if err := idx.ForEach(func(k, _ []byte) error {
			ids = append(ids, append([]byte(nil), k...))
			return nil
		}); err != nil {
			return err
		}
		for _, id := range ids {
			if err := b.Delete(id); err != nil {
				return err
			}
			if err := idx.Delete(id); err != nil {
				return err
			}
		}
		n = len(ids)
		return nil
	})
	return n, err
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

// PendingDevices returns every device waiting for approval (at most
// MaxPending, unless a technician set more back to pending), sorted by id.
func (r *Records) PendingDevices() ([]Device, error) {
	out, _, err := r.Pending(-1)
	return out, err
}

// Pending returns the first limit devices waiting for approval by id (all
// when limit < 0) and how many wait in all. The status page asks every
// second, so it reads the pending index, not every record.
func (r *Records) Pending(limit int) (out []Device, total int, err error) {
	out = []Device{}
	take := func(v []byte) error {
		total++
		if limit >= 0 && len(out) >= limit {
			return nil
		}
		var d Device
		if err := json.Unmarshal(v, &d); err != nil {
			return err
		}
		out = append(out, d)
		return nil
	}
	err = r.db.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucket)
		if idx := tx.Bucket(pendingBucket); idx != nil {
			return idx.ForEach(func(k, _ []byte) error {
				if v := b.Get(k); v != nil {
					return take(v)
				}
				return nil
			})
		}
		// A file no write has indexed yet.
		return b.ForEach(func(_, v []byte) error {
			if !bytes.Contains(v, pendingMarker) {
				return nil
			}
			var d Device
			if err := json.Unmarshal(v, &d); err != nil {
				return err
			}
			if d.Status == DevicePending {
				return take(v)
			}
			return nil
		})
	})
	return out, total, err
}
