package admission

import (
	"testing"

	"github.com/storebox/storebox/daemon/store"
	"github.com/storebox/storebox/daemon/store/storetest"
)

func TestPendingDevices(t *testing.T) {
	s := New(storetest.Open(t, t.TempDir(), store.Options{}))
	if _, err := s.SeeDevice(Device{EquipID: "T-2", Kind: "terminal"}, DevicePending); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SeeDevice(Device{EquipID: "T-1", Kind: "terminal", Name: `x "status":"pending" y`}, DeviceApproved); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SeeDevice(Device{EquipID: "T-0", Kind: "scale"}, DevicePending); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SeeDevice(Device{EquipID: "T-3", Kind: "label"}, DevicePending); err != nil {
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
