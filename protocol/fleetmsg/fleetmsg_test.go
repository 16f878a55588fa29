package fleetmsg

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestParseDesiredAccepts(t *testing.T) {
	body := `{"version": 7, "config": {
	  "doors": [{"id": "D1", "secret": "s", "policy": "entry", "terminal": "T-01", "staff": ["u1"], "open_ms": 2500},
	            {"id": "D2", "secret": "t", "policy": "staff"}],
	  "devices": {"admission": "open", "approve": ["T-02"], "reject": []},
	  "orders": {"payment_ttl": "90s"}}}`
	d, doc, err := ParseDesired([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if d.Version != 7 || doc.Doors == nil || len(*doc.Doors) != 2 || (*doc.Doors)[0].OpenMS != 2500 || (*doc.Doors)[1].Policy != "staff" {
		t.Fatalf("decoded %+v %+v", d, doc)
	}
	if *doc.Devices.Admission != "open" || (*doc.Devices.Approve)[0] != "T-02" || len(*doc.Devices.Reject) != 0 {
		t.Fatalf("devices %+v", doc.Devices)
	}
	if doc.Orders.PaymentTTL.Duration != 90*time.Second {
		t.Fatalf("payment_ttl %v", doc.Orders.PaymentTTL)
	}

	// Absent sections stay nil: the local file's sections stay in force.
	_, doc, err = ParseDesired([]byte(`{"version": 1, "config": {"devices": {"approve": ["T-1"]}}}`))
	if err != nil || doc.Doors != nil || doc.Orders != nil || doc.Devices.Admission != nil || doc.Devices.Reject != nil {
		t.Fatalf("partial document: %+v %v", doc, err)
	}
	// An empty door list is a real value: no doors.
	_, doc, err = ParseDesired([]byte(`{"version": 2, "config": {"doors": []}}`))
	if err != nil || doc.Doors == nil || len(*doc.Doors) != 0 {
		t.Fatalf("empty doors: %+v %v", doc, err)
	}
}

func TestParseDesiredRefusesNamingTheKey(t *testing.T) {
	for _, c := range []struct{ body, key string }{
		{`{"version": 0, "config": {}}`, "version"},
		{`{"config": {}}`, "version"},
		{`{"version": 1}`, "config"},
		{`{"version": 1, "config": []}`, "config"},
		{`{"version": 1, "config": {"upstream": {"url": "http://x"}}}`, "upstream"},
		{`{"version": 1, "config": {"devices": {"listen": ":1"}}}`, "devices.listen"},
		{`{"version": 1, "config": {"devices": {"admission": "maybe"}}}`, "devices.admission"},
		{`{"version": 1, "config": {"devices": {"admission": 3}}}`, "devices.admission"},
		{`{"version": 1, "config": {"devices": {"approve": "T-1"}}}`, "devices.approve"},
		{`{"version": 1, "config": {"devices": {"approve": ["T-1", ""]}}}`, "devices.approve[1]"},
		{`{"version": 1, "config": {"devices": {"approve": ["T-1"], "reject": ["T-1"]}}}`, "devices.reject"},
		{`{"version": 1, "config": {"orders": {"payment_ttl": "15 minutes"}}}`, "orders.payment_ttl"},
		{`{"version": 1, "config": {"orders": {"payment_ttl": "10ms"}}}`, "orders.payment_ttl"},
		{`{"version": 1, "config": {"orders": {"payment_ttl": 900}}}`, "orders.payment_ttl"},
		{`{"version": 1, "config": {"orders": {"ttl": "1m"}}}`, "orders.ttl"},
		{`{"version": 1, "config": {"doors": {"id": "D1"}}}`, "doors"},
		{`{"version": 1, "config": {"doors": [{"id": "D1", "secret": "s", "policy": "sideways"}]}}`, "doors[0].policy"},
		{`{"version": 1, "config": {"doors": [{"id": "D1", "policy": "entry"}]}}`, "doors[0].secret"},
		{`{"version": 1, "config": {"doors": [{"id": "D 1", "secret": "s", "policy": "entry"}]}}`, "doors[0].id"},
		{`{"version": 1, "config": {"doors": [{"id": "D1", "secret": "s", "policy": "entry"}, {"id": "D1", "secret": "s", "policy": "exit"}]}}`, "doors[1].id"},
		{`{"version": 1, "config": {"doors": [{"id": "D1", "secret": "s", "policy": "entry", "open_ms": -1}]}}`, "doors[0].open_ms"},
		{`{"version": 1, "config": {"doors": [{"id": "D1", "secret": "s", "policy": "entry", "colour": "red"}]}}`, "doors[0].colour"},
		{`{"version": 1, "config": {"doors": [{"id": 5, "secret": "s", "policy": "entry"}]}}`, "doors[0].id"},
	} {
		_, _, err := ParseDesired([]byte(c.body))
		var ke *KeyError
		if !errors.As(err, &ke) || ke.Key != c.key {
			t.Errorf("%s: got %v, want a refusal naming %s", c.body, err, c.key)
		}
	}
	for _, body := range []string{`not json`, `{"version": 1, "config": {}} trailing`, `{"version": 1, "config": {}, "extra": 1}`, `{"version": -1, "config": {}}`} {
		if _, _, err := ParseDesired([]byte(body)); err == nil {
			t.Errorf("%s: accepted", body)
		}
	}
	if _, _, err := ParseDesired([]byte(`{"version": 1, "config": {"doors": [` + strings.Repeat(" ", MaxDocument) + `]}}`)); err == nil || !strings.Contains(err.Error(), "limit") {
		t.Errorf("oversize document: %v", err)
	}
}

func TestVersionReadsNumberOrString(t *testing.T) {
	for in, want := range map[string]Version{`{"config":{"version":3}}`: 3, `{"config":{"version":"4"}}`: 4, `{"config":{"version":null}}`: 0, `{"config":{"version":""}}`: 0, `{}`: 0} {
		h, err := DecodeHealth([]byte(in))
		if err != nil || h.Config.Version != want {
			t.Errorf("%s: %v %v", in, h.Config.Version, err)
		}
	}
	if _, err := DecodeHealth([]byte(`{"config":{"version":"x"}}`)); err == nil {
		t.Error("version \"x\" accepted")
	}
	if ETag(12) != `"12"` {
		t.Errorf("etag %s", ETag(12))
	}
}

func FuzzParseDesired(f *testing.F) {
	f.Add([]byte(`{"version": 7, "config": {"doors": [{"id": "D1", "secret": "s", "policy": "entry"}], "devices": {"admission": "open"}, "orders": {"payment_ttl": "90s"}}}`))
	f.Add([]byte(`{"version": 1, "config": {"devices": {"approve": ["a"], "reject": ["a"]}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, doc, err := ParseDesired(b)
		if err != nil {
			return
		}
		if d.Version == 0 {
			t.Fatal("accepted version 0")
		}
		if doc.Doors != nil {
			for _, dr := range *doc.Doors {
				if dr.ID == "" || dr.Secret == "" {
					t.Fatalf("accepted door %+v", dr)
				}
			}
		}
	})
}

// Issue 19 items 5 and 8: a document is checked whole before anything of
// it applies: ids have the equipId bound, a door secret's bcrypt cost is
// 4..14, and the version a JSON-safe whole number.
func TestParseDesiredBounds(t *testing.T) {
	cost := func(n int) string { return fmt.Sprintf("$2a$%02d$", n) + strings.Repeat("a", 53) }
	for _, c := range []struct{ body, key string }{
		{`{"version": 1, "config": {"devices": {"approve": ["T-1", "` + strings.Repeat("x", 40000) + `"]}}}`, "devices.approve[1]"},
		{`{"version": 1, "config": {"devices": {"reject": ["T-\u001b[2J"]}}}`, "devices.reject[0]"},
		{`{"version": 1, "config": {"doors": [{"id": "D1", "secret": "` + cost(31) + `", "policy": "entry"}]}}`, "doors[0].secret"},
		{`{"version": 1, "config": {"doors": [{"id": "D1", "secret": "$2a$10$short", "policy": "entry"}]}}`, "doors[0].secret"},
		{`{"version": 18446744073709551615, "config": {}}`, "version"},
		{`{"version": 9007199254740992, "config": {}}`, "version"},
	} {
		_, _, err := ParseDesired([]byte(c.body))
		var ke *KeyError
		if !errors.As(err, &ke) || ke.Key != c.key {
			t.Errorf("%.80s: got %v, want a refusal naming %s", c.body, err, c.key)
		}
	}
	for _, body := range []string{
		`{"version": 9007199254740991, "config": {"devices": {"approve": ["` + strings.Repeat("x", 128) + `"]}}}`,
		`{"version": 1, "config": {"doors": [{"id": "D1", "secret": "` + cost(14) + `", "policy": "entry"}]}}`,
	} {
		if _, _, err := ParseDesired([]byte(body)); err != nil {
			t.Errorf("%.80s: %v", body, err)
		}
	}
}

// A refused document is named by the version it states, even one
// ParseDesired refuses; a body without one names none.
func TestStatedVersion(t *testing.T) {
	for body, want := range map[string]Version{
		`{"version": 7, "config": {"doors": "garbage"}}`: 7,
		`{"version": "12", "config": 5}`:                 12,
		`{"config": {}}`:                                 0,
		`not json`:                                       0,
		`{"version": -1}`:                                0,
	} {
		if got := StatedVersion([]byte(body)); got != want {
			t.Errorf("StatedVersion(%s) = %d, want %d", body, got, want)
		}
	}
}
