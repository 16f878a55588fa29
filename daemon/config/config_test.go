package config

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
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

// Read endpoints are closed unless a trusted LAN says otherwise (PROTOCOL.md §5).
func TestHTTPReadAuthDefaultsOn(t *testing.T) {
	c, err := Load("")
	if err != nil || !c.HTTP.ReadAuth || c.HTTP.MetricsAuth {
		t.Fatalf("defaults: read_auth %v metrics_auth %v (%v)", c.HTTP.ReadAuth, c.HTTP.MetricsAuth, err)
	}
	c, err = Parse("c.toml", []byte("[http]\nread_auth = false\nmetrics_auth = true\n"))
	if err != nil || c.HTTP.ReadAuth || !c.HTTP.MetricsAuth {
		t.Fatalf("parsed: read_auth %v metrics_auth %v (%v)", c.HTTP.ReadAuth, c.HTTP.MetricsAuth, err)
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
		{"negative open_ms", "[[doors]]\nid=\"d1\"\nsecret=\"x\"\npolicy=\"entry\"\nopen_ms = -5\n", "c.toml:5: doors[0].open_ms: must be ≥ 0"},
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

// A value of the wrong type is named by line and key, and it does not hide
// the other mistakes in the same file.
func TestEveryErrorInAFileAtOnce(t *testing.T) {
	doc := "store_id = \"s\"\n[devices]\nheartbeat = 15\nmax_connections = \"many\"\nadmission = \"maybe\"\n[log]\nlevel = \"loud\"\nformat = 3\n[[doors]]\nid = \"d\"\nsecret = \"x\"\npolicy = \"entry\"\nopen_ms = \"long\"\n[http]\nlisen = \":1\"\n"
	_, err := Parse("c.toml", []byte(doc))
	if err == nil {
		t.Fatal("no error")
	}
	want := []string{
		`c.toml:3: devices.heartbeat: not a duration (use e.g. "500ms", "60s", "15m")`,
		`c.toml:4: devices.max_connections: must be a whole number, not the string "many"`,
		`c.toml:5: devices.admission: "maybe" is not one of open, pairing`,
		`c.toml:7: log.level: "loud" is not one of debug, info, warn, error`,
		`c.toml:8: log.format: must be a string (in quotes), not the number 3`,
		`c.toml:13: doors[0].open_ms: must be a whole number, not the string "long"`,
		`c.toml:15: http.lisen: unknown key (did you mean http.listen?)`,
	}
	if got := err.Error(); got != strings.Join(want, "\n") {
		t.Fatalf("got:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
}

func TestMissingFileIsAConfigError(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "absent.toml"))
	var es Errors
	if !errors.As(err, &es) || !strings.Contains(err.Error(), "absent.toml: cannot read the file: ") ||
		!strings.Contains(err.Error(), "no such file or directory") && !strings.Contains(err.Error(), "not found") /* Windows */ {
		t.Fatalf("got %T %v", err, err)
	}
}

func TestTablesMapsAndArraysDecode(t *testing.T) {
	doc := "devices.listen = \"127.0.0.1:9\"\ndevices.heartbeat = \"20s\"\n[devices.tokens]\nT-01 = \"tok\"\n[[doors]]\nid = \"d1\"\nsecret = \"s\"\npolicy = \"staff\"\nstaff = [\"u1\", \"u2\"]\n[[scales]]\nid = \"sc\"\nport = \"/dev/x\"\nbaud = 9600\n"
	c, err := Parse("c.toml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if c.Devices.Listen != "127.0.0.1:9" || c.Devices.Heartbeat.Seconds() != 20 || c.Devices.Tokens["T-01"] != "tok" ||
		len(c.Doors) != 1 || c.Doors[0].Staff[1] != "u2" || c.Scales[0].Baud != 9600 || c.Devices.MaxConnections != 10000 {
		t.Fatalf("got %+v", c)
	}
	_, err = Parse("c.toml", []byte("devices = { heartbeat = 1 }\n[[doors]]\nstaff = \"u1\"\n"))
	for _, want := range []string{"c.toml:1: devices.heartbeat: not a duration", "c.toml:3: doors[0].staff: must be an array of strings, not the string \"u1\""} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("want %q in %v", want, err)
		}
	}
}

func TestTLSFilesMustExist(t *testing.T) {
	dir := t.TempDir()
	cert := filepath.Join(dir, "c.pem")
	os.WriteFile(cert, []byte("x"), 0o600)
	// Literal strings: a Windows path's backslashes are no escapes.
	doc := "[mqtt]\ntls_listen = \":8883\"\ntls_cert = '" + cert + "'\ntls_key = '" + filepath.Join(dir, "k.pem") + "'\n"
	_, err := Parse("c.toml", []byte(doc))
	if err == nil || err.Error() != "c.toml:4: mqtt.tls_key: "+filepath.Join(dir, "k.pem")+" does not exist" {
		t.Fatalf("got %v", err)
	}
}

func TestRetentionInDays(t *testing.T) {
	c, err := Parse("c.toml", nil)
	if err != nil || c.Orders.Retention.Duration != 90*24*time.Hour {
		t.Fatalf("default retention %v %v", c.Orders.Retention, err)
	}
	for doc, want := range map[string]time.Duration{
		`retention = "30d"`:   30 * 24 * time.Hour,
		`retention = "1d12h"`: 36 * time.Hour,
		`retention = "2160h"`: 90 * 24 * time.Hour,
		`retention = "1m"`:    time.Minute,
		`retention = "0d30m"`: 30 * time.Minute,
	} {
		c, err := Parse("c.toml", []byte("[orders]\n"+doc+"\n"))
		if err != nil || c.Orders.Retention.Duration != want {
			t.Errorf("%s: %v %v, want %v", doc, c.Orders.Retention, err, want)
		}
	}
	for _, doc := range []string{`retention = "30s"`, `retention = "d"`, `retention = "3x"`, `retention = "5d-1h"`, `retention = "99999999999d"`} {
		if _, err := Parse("c.toml", []byte("[orders]\n"+doc+"\n")); err == nil || !strings.Contains(err.Error(), "orders.retention") {
			t.Errorf("%s: %v", doc, err)
		}
	}
}

// parseDuration is time.ParseDuration plus a leading count of days: any
// input either parses as exactly that or is refused, and never panics.
func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"90d", "1d12h", "0d", "15m", "-1d", "d", "1dd", "3.5d", "1d-1h", "99999999999d", "1d1d", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := parseDuration(s)
		i := strings.IndexByte(s, 'd')
		days, derr := strconv.Atoi(s[:max(i, 0)])
		if i <= 0 || derr != nil || strings.ContainsAny(s[:i], "+-") {
			want, werr := time.ParseDuration(s)
			if (err == nil) != (werr == nil) || (err == nil && got != want) {
				t.Fatalf("%q: %v %v, time.ParseDuration says %v %v", s, got, err, want, werr)
			}
			return
		}
		if err != nil {
			return // a day count or rest refused
		}
		rest := time.Duration(0)
		if s[i+1:] != "" {
			rest, _ = time.ParseDuration(s[i+1:])
		}
		if days > 100*366 || got != time.Duration(days)*24*time.Hour+rest || rest < 0 {
			t.Fatalf("%q: %v", s, got)
		}
	})
}
