package daemon

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/storebox/storebox/daemon/config"
)

func TestReloadIsAllOrNothing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	var logs syncBuffer
	d := runDaemon(t, testConfig(t, dir, frontDoor), slog.New(slog.NewTextHandler(&logs, nil)))

	// A door the configuration check lets through but the doors refuse
	// (a secret that looks like a bcrypt hash and is not one).
	bad := testConfig(t, dir, frontDoor)
	bad.Doors = append(bad.Doors, config.Door{ID: "back", Secret: "$2a$xx", Policy: "entry"})
	err := d.Reload(bad)
	if err == nil || !strings.Contains(err.Error(), "nothing applied") || !strings.Contains(err.Error(), "door back") {
		t.Fatalf("reload of a bad door: %v", err)
	}
	if got := doorIDs(d); !slices.Equal(got, []string{"front"}) {
		t.Fatalf("doors after a refused reload: %v", got)
	}

	good := testConfig(t, dir, "\n[[doors]]\nid = \"back\"\nsecret = \"s-back\"\npolicy = \"exit\"\n")
	good.StoreName = "Renamed"
	if err := d.Reload(good); err != nil {
		t.Fatal(err)
	}
	if got := doorIDs(d); !slices.Equal(got, []string{"back"}) {
		t.Fatalf("doors after a reload: %v", got)
	}
	if !strings.Contains(logs.String(), "restart to apply") || !strings.Contains(logs.String(), "store_name") {
		t.Fatalf("the log does not name store_name as needing a restart:\n%s", logs.String())
	}
}

func TestChangedKeysNamesSectionFieldsAndSkipsOwned(t *testing.T) {
	old := config.Default()
	now := config.Default()
	now.StoreName = "x"
	now.Devices.Admission = "open"
	now.Orders.PaymentTTL.Duration = time.Minute
	now.Doors = []config.Door{{ID: "d"}}
	got := changedKeys(old, now, []string{"doors", "orders.payment_ttl"})
	if want := []string{"store_name", "devices.admission"}; !slices.Equal(got, want) {
		t.Fatalf("changed %v, want %v", got, want)
	}
}

// TestReloadThroughTheLocalAPI: POST /api/v1/reload (what `storebox
// reload` sends; the way on Windows, which has no SIGHUP) reads the
// configuration again and applies it; it needs the admin token, and a file
// that does not load changes nothing and is reported.
func TestReloadThroughTheLocalAPI(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	d := runDaemon(t, testConfig(t, dir, frontDoor), slog.New(slog.DiscardHandler))
	next := testConfig(t, dir, "\n[[doors]]\nid = \"back\"\nsecret = \"s-back\"\npolicy = \"exit\"\n")
	var loadErr error
	d.SetConfigSource(func() (*config.Config, error) { return next, loadErr })
	url := "http://" + d.http.Addr().String() + "/api/v1/reload"
	post := func(token string) (int, string) {
		req, _ := http.NewRequest("POST", url, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := post(""); code != http.StatusUnauthorized {
		t.Fatalf("reload without the token: %d", code)
	}
	if got := doorIDs(d); !slices.Equal(got, []string{"front"}) {
		t.Fatalf("doors changed without the token: %v", got)
	}
	loadErr = errors.New("storebox.toml:3: doors[0].policy: bad")
	if code, body := post(d.adminToken); code != http.StatusUnprocessableEntity || !strings.Contains(body, "doors[0].policy") {
		t.Fatalf("reload of a file that does not load: %d %s", code, body)
	}
	loadErr = nil
	if code, body := post(d.adminToken); code != http.StatusOK {
		t.Fatalf("reload: %d %s", code, body)
	}
	if got := doorIDs(d); !slices.Equal(got, []string{"back"}) {
		t.Fatalf("doors after a reload through the API: %v", got)
	}
}
