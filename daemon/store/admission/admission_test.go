package admission

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/storebox/storebox/daemon/store"
	"github.com/storebox/storebox/daemon/store/storetest"
)

func TestPendingDevices(t *testing.T) {
	s := New(storetest.Open(t, t.TempDir(), store.Options{}))
	if _, err := s.SeeDevice(Device{EquipID: "T-2", Kind: "terminal"}, DevicePending, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SeeDevice(Device{EquipID: "T-1", Kind: "terminal", Name: `x "status":"pending" y`}, DeviceApproved, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SeeDevice(Device{EquipID: "T-0", Kind: "scale"}, DevicePending, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SeeDevice(Device{EquipID: "T-3", Kind: "label"}, DevicePending, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetDeviceStatus("T-3", DeviceRejected); err != nil {
		t.Fatal(err)
	}
	got, err := s.PendingDevices()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].EquipID != "T-0" || got[1].EquipID != "T-2" {
		t.Fatalf("pending %+v", got)
	}
	all, _ := s.Devices()
	n := 0
	for _, d := range all {
		if d.Status == DevicePending {
			n++
		}
	}
	if n != len(got) {
		t.Fatalf("Devices() has %d pending, PendingDevices %d", n, len(got))
	}
}

// A file written before the pending index: reads scan the records, and the
// first write builds the index from them, so the cap counts them.
func TestPendingIndexBuiltForOlderFiles(t *testing.T) {
	st := storetest.Open(t, t.TempDir(), store.Options{})
	s := New(st)
	for _, id := range []string{"P-1", "P-2"} {
		if _, err := s.SeeDevice(Device{EquipID: id, Kind: "terminal"}, DevicePending, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Update(func(t *store.Tx) error { return t.DeleteBucket(pendingBucket) }); err != nil {
		t.Fatal(err)
	}
	if list, total, err := s.Pending(1); err != nil || total != 2 || len(list) != 1 || list[0].EquipID != "P-1" {
		t.Fatalf("without the index: %v %d %v", list, total, err)
	}
	if _, err := s.SetDeviceStatus("A-1", DeviceApproved); err != nil {
		t.Fatal(err)
	}
	if _, total, _ := s.Pending(0); total != 2 {
		t.Fatalf("index built with %d pending, want 2", total)
	}
	if _, err := s.SetDeviceStatus("P-1", DeviceRejected); err != nil {
		t.Fatal(err)
	}
	if list, total, _ := s.Pending(-1); total != 1 || list[0].EquipID != "P-2" {
		t.Fatalf("after a rejection: %v %d", list, total)
	}
	if _, err := s.SetDeviceStatus("T-\x1b[2J", DeviceApproved); err == nil {
		t.Fatal("an id with an escape sequence was approved")
	}
}

// Issue 19 item 8: a list of statuses applies whole or not at all.
func TestSetStatusesAllOrNothing(t *testing.T) {
	s := New(storetest.Open(t, t.TempDir(), store.Options{}))
	_, err := s.SetStatuses(map[string]string{"T-1": DeviceApproved, strings.Repeat("x", 40000): DeviceApproved})
	if err == nil {
		t.Fatal("a 40,000-byte id was accepted")
	}
	if all, _ := s.Devices(); len(all) != 0 {
		t.Fatalf("a refused list changed %d records", len(all))
	}
	changed, err := s.SetStatuses(map[string]string{"T-1": DeviceApproved, "T-2": DeviceRejected})
	if err != nil || len(changed) != 2 {
		t.Fatalf("%v %v", changed, err)
	}
	if changed, _ = s.SetStatuses(map[string]string{"T-1": DeviceApproved, "T-2": DeviceApproved}); len(changed) != 1 || changed[0].EquipID != "T-2" {
		t.Fatalf("changed %v, want T-2 only", changed)
	}
}

// writeCounter is the real store, counting the write transactions asked of it.
type writeCounter struct {
	DB
	writes int
}

func (w *writeCounter) Update(fn func(*store.Tx) error) error { w.writes++; return w.DB.Update(fn) }
func (w *writeCounter) Batch(fn func(*store.Tx) error) error  { w.writes++; return w.DB.Batch(fn) }

// A login flood costs reads: a new id at the cap, and a device seen within
// the last minute, take no write transaction (no fsync, no writer lock
// shared with orders).
func TestSeeDeviceFloodTakesNoWrites(t *testing.T) {
	db := &writeCounter{DB: storetest.Open(t, t.TempDir(), store.Options{})}
	s := New(db)
	set := map[string]string{}
	for i := range MaxPending {
		set[fmt.Sprintf("P-%04d", i)] = DevicePending
	}
	if _, err := s.SetStatuses(set); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SeeDevice(Device{EquipID: "P-0001", Kind: "terminal"}, DevicePending, nil); err != nil {
		t.Fatal(err)
	}
	db.writes = 0
	for i := range 100 {
		if _, err := s.SeeDevice(Device{EquipID: fmt.Sprintf("NEW-%d", i), Kind: "terminal"}, DevicePending, nil); !errors.Is(err, ErrPendingFull) {
			t.Fatalf("new id at the cap: %v", err)
		}
		if d, err := s.SeeDevice(Device{EquipID: "P-0001", Kind: "terminal", Name: fmt.Sprint(i)}, DevicePending, nil); err != nil || d.Status != DevicePending {
			t.Fatalf("known id: %+v %v", d, err)
		}
	}
	if db.writes != 0 {
		t.Fatalf("%d write transactions for 200 logins", db.writes)
	}
}
