package daemon

import (
	"log/slog"
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
