package config

import (
	"reflect"
	"slices"
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

// fleetmsg tells a restart-only key from a typo by its copy of the file's
// keys; it must be this package's Config, key for key.
func TestFleetFileKeysMatchConfig(t *testing.T) {
	keys := func(v any) []string {
		var out []string
		for k := range tomlFields(reflect.TypeOf(v)) {
			out = append(out, k)
		}
		slices.Sort(out)
		return out
	}
	for section, want := range map[string][]string{"": keys(Config{}), "devices": keys(Devices{}), "orders": keys(Orders{}), "doors": keys(Door{})} {
		got := slices.Sorted(slices.Values(fleetmsg.FileKeys[section]))
		if !slices.Equal(got, want) {
			t.Errorf("fleetmsg.FileKeys[%q] = %v, the file has %v", section, got, want)
		}
	}
}

// A misspelt key in a remote document is unknown, with the key it was
// meant to be, as in the file; a real key of the file that needs a restart
// says so.
func TestRemoteKeyErrorsNameTyposAndRestartKeys(t *testing.T) {
	for _, tc := range []struct{ doc, want string }{
		{`{"devices": {"admision": "open"}}`, "devices.admision: unknown key (did you mean devices.admission?)"},
		{`{"devices": {"colour": "red"}}`, "devices.colour: unknown key"},
		{`{"doors": [{"id": "a", "secret": "s", "polcy": "entry"}]}`, "doors[0].polcy: unknown key (did you mean doors[0].policy?)"},
		{`{"dors": []}`, "dors: unknown key (did you mean doors?)"},
		{`{"devices": {"listen": ":1"}}`, "devices.listen: cannot be set remotely: it needs a restart"},
		{`{"mqtt": {}}`, "mqtt: cannot be set remotely: it needs a restart"},
	} {
		_, err := fleetmsg.CheckConfig([]byte(tc.doc))
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.doc, err, tc.want)
		}
	}
	_, err := Parse("c.toml", []byte("[devices]\nadmision = \"open\"\n"))
	if err == nil || !strings.Contains(err.Error(), "devices.admision: unknown key (did you mean devices.admission?)") {
		t.Errorf("the file's check says otherwise: %v", err)
	}
}
