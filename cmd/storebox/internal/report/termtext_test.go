package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/storebox/storebox/daemon/config"
	"github.com/storebox/storebox/daemon/devices"
	"github.com/storebox/storebox/daemon/discovery"
	"github.com/storebox/storebox/daemon/doctor"
	"github.com/storebox/storebox/daemon/httpapi"
	"github.com/storebox/storebox/daemon/store/admission"
	wire "github.com/storebox/storebox/protocol/discovery"
)

// hostile is what a device or a cloud sends to take over a terminal:
// clear the screen, set the window title, a C1 CSI colour, a newline and
// tab to fake a row, and a right-to-left override.
const hostile = "X\x1b[2J\x1b]0;pwned\x07\u009b31m\n\tFAKE\u202eexe"

// interpreted reports a character a terminal would act on.
func interpreted(s string) (rune, bool) {
	for _, r := range s {
		if (r < 0x20 && r != '\n' && r != '\t') || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == 0x202e {
			return r, true
		}
	}
	return 0, false
}

// Issue 19 item 7: device and cloud text reaches the technician's
// terminal escaped in `storebox status`, `devices`, `discover`, `doctor`
// and `sync`.
func TestReportsEscapeNetworkText(t *testing.T) {
	now := time.Now()
	check := func(what, out string) {
		t.Helper()
		if r, bad := interpreted(out); bad {
			t.Errorf("%s prints %U raw:\n%q", what, r, out)
		}
		if !strings.Contains(out, `X\x1b[2J\x1b]0;pwned\x07\u009b31m\x0a\x09FAKE\u202eexe`) {
			t.Errorf("%s does not show the text escaped:\n%q", what, out)
		}
		if strings.Contains(out, "\n\tFAKE") || strings.Contains(out, "\nFAKE") {
			t.Errorf("%s has a faked row:\n%s", what, out)
		}
	}
	h, _ := json.Marshal(hostile)
	var s httpapi.StatusSnapshot
	raw := `{"store_id":"s1","store_name":` + string(h) + `,"pending_devices":[{"equipId":` + string(h) + `,"kind":"terminal","name":` + string(h) + `,"status":"pending"}],"pending_total":1,
	"queue":{"upstream_configured":true,"last_error":` + string(h) + `},
	"doors":[{"id":` + string(h) + `,"policy":"entry","error":` + string(h) + `}],
	"online":[{"equipId":` + string(h) + `,"kind":"terminal","addr":"10.0.0.2:5000"}],
	"config":{"refused":{"version":"8","reason":` + string(h) + `}}}`
	if err := json.Unmarshal([]byte(raw), &s); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := Status(&b, &s, 20, now); err != nil {
		t.Fatal(err)
	}
	check("status", b.String())

	b.Reset()
	Devices(&b, []admission.Device{{EquipID: hostile, Kind: "terminal", Name: hostile, Status: "pending", Addr: hostile}},
		[]devices.SessionInfo{{EquipID: hostile, Framing: hostile}}, now)
	check("devices", b.String())

	b.Reset()
	Boxes(&b, []discovery.Box{{Answer: wire.Answer{StoreID: hostile, Name: hostile, Host: "10.0.0.9", Version: hostile}, Via: []string{hostile}}})
	check("discover", b.String())

	b.Reset()
	Doctor(&b, []doctor.Result{{Level: doctor.Warn, Check: "cloud", Detail: hostile}}, false)
	check("doctor", b.String())

	b.Reset()
	Sync(&b, config.Default(), SyncReport{LastError: hostile}, true)
	check("sync", b.String())
}
