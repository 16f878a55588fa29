package config

import (
	"strings"
	"testing"
)

func TestDefaultsValid(t *testing.T) {
	c, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if c.Devices.Listen != ":8686" || c.HTTP.Listen != ":8680" || c.MQTT.Listen != ":1883" {
		t.Fatalf("defaults: %+v", c)
	}
}

func TestErrorsNameFileLineKey(t *testing.T) {
	cases := []struct {
		name, doc, want string
	}{
		{"unknown key", "store_id = \"s1\"\n[devices]\nlisten = \":1\"\nlisen = \"x\"\n", "c.toml:4: devices.lisen: unknown key"},
		{"bad address", "[devices]\n\nlisten = \"nonsense\"\n", "c.toml:3: devices.listen: \"nonsense\" is not host:port"},
		{"bad duration", "[orders]\npayment_ttl = \"15 minutes\"\n", "c.toml:2"},
		{"bad enum", "[devices]\nadmission = \"maybe\"\n", "c.toml:2: devices.admission: \"maybe\" is not one of open, pairing"},
		{"bad type", "[devices]\nmax_connections = \"many\"\n", "c.toml:2"},
		{"door policy", "[[doors]]\nid=\"d1\"\nsecret=\"x\"\npolicy=\"entry\"\n[[doors]]\nid=\"d2\"\nsecret=\"y\"\npolicy=\"sideways\"\n", "c.toml:8: doors[1].policy"},
		{"syntax", "store_id = \n", "c.toml:1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("c.toml", []byte(tc.doc))
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

func TestParseOverridesDefaults(t *testing.T) {
	c, err := Parse("c.toml", []byte("store_id=\"s9\"\n[upstream]\nurl=\"http://127.0.0.1:1\"\nsecret=\"k\"\ncatalog_interval=\"5s\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.StoreID != "s9" || c.Upstream.CatalogInterval.Seconds() != 5 || c.Devices.Listen != ":8686" {
		t.Fatalf("got %+v", c)
	}
}
