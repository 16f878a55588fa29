package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/storebox/storebox/daemon/httpapi"
)

func TestStatusSections(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	var s httpapi.StatusSnapshot
	raw := `{"store_id":"s1","store_name":"One","version":"1.0","uptime_s":3725,"ready":true,"test_mode":true,
	"sessions":{"terminal":2,"label":1},"connections":3,"goods":10,
	"queue":{"depth":4,"oldest_age_s":90,"dead_letters":1,"last_seq":42,"upstream_configured":true,"online":false,"last_success":"2026-11-27T11:59:00Z","last_error":"HTTP 503"},
	"scales":[{"id":"S1","state":"ok","weight_g":1250,"stable":true,"at":"2026-11-27T11:59:59Z"}],
	"printers":[{"id":"front","state":"paper_end","queued":3,"error":"out of paper","fault":true,"printed":9,"last_printed":"2026-11-27T11:50:00Z"},{"id":"back","state":"ok","queued":0}],
	"doors":[{"id":"D1","policy":"entry","state":"closed","online":true,"lastSeen":"2026-11-27T11:58:00Z","stateAt":"0001-01-01T00:00:00Z","lastOpen":{"outcome":"denied","reason":"unpaid order","at":"2026-11-27T11:57:00Z"}}],
	"orders":{"counts":{"paid":3,"pending":1},"recent":[{"oid":"O-1","status":"paid","amount_total":123456,"method":"cash","created_at":"2026-11-27T11:00:00Z"}],
	"needs_review":[{"oid":"O-9","status":"pending","amount_total":-5,"method":"qr","reason":"amount mismatch"}]},
	"online":[{"equipId":"T-1","kind":"terminal","addr":"10.0.0.2:5000","framing":"line","charset":"utf-8","since":"2026-11-27T10:00:00Z"}],
	"config":{"source":"remote","version":7,"applied_at":"2026-11-26T09:00:00Z","remote_enabled":true,
	  "refused":{"version":"8","reason":"devices.listen: cannot be set remotely","at":"2026-11-27T11:30:00Z"}}}`
	if err := json.Unmarshal([]byte(raw), &s); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := Status(&b, &s, 20, now); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"TEST MODE", "up 1h2m", "terminals 2", "labels 1", "OFFLINE", "4 events unsent, oldest 1m30s, 1 dead letters", "HTTP 503",
		"1250 g", "entry", "closed", "denied (unpaid order)", "NEEDS REVIEW (1)", "-0.05", "amount mismatch", "1234.56", "paid 3, pending 1", "Online sessions (3)", "T-1",
		"remote version 7, applied 2026-11-26", "front", "paper_end (FAULT)", "out of paper", "back", "remote version 8 at ", "devices.listen: cannot be set remotely"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
