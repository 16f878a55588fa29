package e2e

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/storebox/storebox/test/harness"
)

// Issue 19 items 5 and 8: a signed document is checked whole before any
// of it applies. An approve list with one id over the equipId bound (which
// used to be "applied" while that id failed, logged only), a door secret
// with bcrypt cost 31, and version 2^64-1 (after which no document could
// ever apply) are refused as config_refused, and nothing of them applies.
func TestFleetDocumentCheckedWhole(t *testing.T) {
	cloud := &signedCloud{}
	cloud.serve(`{"version": 1, "config": {"devices": {"approve": ["T-ONE"]}}}`)
	hs := httptest.NewServer(cloud)
	defer hs.Close()
	d := fleetDaemon(t, hs.URL, "")
	d.Start()
	waitConfig(t, d, "at version 1", func(c configStatus) bool { return c.Version == 1 })

	cloud.serve(`{"version": 2, "config": {"devices": {"approve": ["T-ONE", "T-TWO", "` + strings.Repeat("x", 40000) + `"]}}}`)
	waitConfig(t, d, "refused (40,000-byte id)", refusedWith("2", "devices.approve[2]: equipId is 40000 bytes; at most 128"))
	cloud.serve(`{"version": 3, "config": {"doors": [{"id": "front", "secret": "$2a$31$` + strings.Repeat("a", 53) + `", "policy": "entry"}]}}`)
	waitConfig(t, d, "refused (bcrypt cost 31)", refusedWith("3", "doors[0].secret: bcrypt cost 31 is outside 4..14"))
	cloud.serve(`{"version": 18446744073709551615, "config": {"devices": {"approve": ["T-TWO"]}}}`)
	waitConfig(t, d, "refused (version 2^64-1)", refusedWith("18446744073709551615", "version: must be a whole number from 1 to 9007199254740991"))

	for _, id := range []string{"T-TWO"} {
		if r := login(t, d, id); r.Code() != "pending_approval" {
			t.Fatalf("%s of a refused document was approved: %s", id, r.Raw)
		}
	}
	if r := login(t, d, "T-ONE"); r.Exception() != "" {
		t.Fatalf("T-ONE of the applied document: %s", r.Raw)
	}
	// A later good document still applies.
	cloud.serve(`{"version": 4, "config": {"devices": {"approve": ["T-ONE", "T-TWO"]}}}`)
	waitConfig(t, d, "at version 4", func(c configStatus) bool { return c.Version == 4 && c.Refused == nil })
	if r := login(t, d, "T-TWO"); r.Exception() != "" {
		t.Fatalf("T-TWO after version 4: %s", r.Raw)
	}
}

func login(t *testing.T, d *harness.Daemon, id string) harness.Reply {
	t.Helper()
	dv, err := d.Dial(id)
	if err != nil {
		t.Fatal(err)
	}
	defer dv.Close()
	r, err := dv.Call("login", map[string]any{})
	if err != nil {
		t.Fatal(err)
	}
	return r
}
