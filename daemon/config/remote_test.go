package config

import (
	"strings"
	"testing"
	"time"

	"github.com/storebox/storebox/protocol/fleetmsg"
)

const localDoors = "[devices]\nadmission = \"pairing\"\napprove = [\"T-1\"]\n[[doors]]\nid = \"back\"\nsecret = \"b\"\npolicy = \"exit\"\n"

func sections(t *testing.T, body string) fleetmsg.Document {
	t.Helper()
	s, err := fleetmsg.CheckConfig([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestWithRemoteReplacesOnlyTheSectionsItSets(t *testing.T) {
	local, err := Parse("local.toml", []byte(localDoors))
	if err != nil {
		t.Fatal(err)
	}
	got, err := local.WithRemote(sections(t, `{"doors":[{"id":"front","secret":"f","policy":"entry"}],"orders":{"payment_ttl":"2m"},"devices":{"approve":["T-2"]}}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Doors) != 1 || got.Doors[0].ID != "front" || got.Orders.PaymentTTL.Duration != 2*time.Minute ||
		got.Devices.Admission != "pairing" || got.Devices.Approve[0] != "T-2" {
		t.Fatalf("merged %+v", got)
	}
	if got.Path != "local.toml" || local.Doors[0].ID != "back" || local.Orders.PaymentTTL.Duration != 15*time.Minute {
		t.Fatalf("local changed or path lost: %+v", local)
	}
}

func TestWithRemoteRefusesBadValuesByKey(t *testing.T) {
	local, _ := Parse("local.toml", []byte(localDoors))
	cases := []struct{ body, want string }{
		// The local file approves T-1; a remote reject of it conflicts.
		{`{"devices":{"reject":["T-1"]}}`, `remote configuration: devices.reject[0]: "T-1" is also in devices.approve`},
	}
	for _, tc := range cases {
		_, err := local.WithRemote(sections(t, tc.body))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want %q", tc.body, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "local.toml") {
			t.Errorf("%s: error points at the local file: %v", tc.body, err)
		}
	}
}

func TestFleetDefaultsAndLimits(t *testing.T) {
	c := Default()
	if c.Fleet.HealthInterval.Duration != time.Minute || c.Fleet.ConfigInterval.Duration != time.Minute ||
		c.Fleet.QueueAlarmAge.Duration != 15*time.Minute || !c.Fleet.RemoteConfig {
		t.Fatalf("fleet defaults %+v", c.Fleet)
	}
	_, err := Parse("c.toml", []byte("[fleet]\nhealth_interval = \"100ms\"\nremote_config = false\n"))
	if err == nil || !strings.Contains(err.Error(), "c.toml:2: fleet.health_interval: must be at least 1s") {
		t.Fatalf("err %v", err)
	}
}
