package daemon

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/storebox/storebox/daemon/config"
	"github.com/storebox/storebox/daemon/store/admission"
)

// FuzzConfigCheckAgreesWithParts mutates the shipped config file: whatever
// config.Parse (what `config check` and `run` load) accepts, the parts New
// builds must accept too (CheckConfig: doors and TLS, payments, scales).
// Otherwise `config check` passes a file `run` then refuses (issue 19
// item 9). CheckConfig's refusals are config errors either way (exit 78);
// this holds Validate to catching them first, with the file's line.
func FuzzConfigCheckAgreesWithParts(f *testing.F) {
	shipped, err := os.ReadFile(filepath.Join("..", "packaging", "storebox.toml"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(shipped)
	f.Fuzz(func(t *testing.T, file []byte) {
		cfg, err := config.Parse("storebox.toml", file)
		if err != nil {
			var es config.Errors
			if !errors.As(err, &es) {
				t.Fatalf("Parse refused with %T, not config.Errors (exit 78): %v", err, err)
			}
			return
		}
		if err := CheckConfig(cfg); err != nil {
			t.Fatalf("config.Parse accepted what the parts refuse: %v\n%s", err, file)
		}
	})
}

// At the pending cap the health observation says so (the fleet raises
// devices_pending_full from it); below it, it does not.
func TestObservePendingFull(t *testing.T) {
	d := runDaemon(t, testConfig(t, t.TempDir(), ""), slog.New(slog.DiscardHandler))
	set := map[string]string{}
	for i := range admission.MaxPending - 1 {
		set[fmt.Sprintf("P-%04d", i)] = admission.DevicePending
	}
	if _, err := d.admission.SetStatuses(set); err != nil {
		t.Fatal(err)
	}
	for _, counts := range []bool{false, true} {
		if o := d.observe(counts); o.PendingFull || len(o.Pending) != admission.MaxPending-1 {
			t.Fatalf("below the cap (counts %v): full %v, %d pending", counts, o.PendingFull, len(o.Pending))
		}
	}
	if _, err := d.admission.SetDeviceStatus("P-LAST", admission.DevicePending); err != nil {
		t.Fatal(err)
	}
	for _, counts := range []bool{false, true} {
		if o := d.observe(counts); !o.PendingFull {
			t.Fatalf("at the cap (counts %v): not full, %d pending", counts, len(o.Pending))
		}
	}
}
