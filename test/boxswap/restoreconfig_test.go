package boxswap

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/storebox/storebox/daemon/store"
	"github.com/storebox/storebox/daemon/store/storetest"
	"github.com/storebox/storebox/test/harness"
)

// A replacement box straight from the installer (its own default
// configuration, another store_id) restored from the dead box's backup:
// without --with-config the restore is refused and changes nothing; with
// it the backup's configuration replaces the installer's (kept aside), and
// the daemon starts as the old store, with its orders and its settings.
func TestRestoreWithConfigOntoAFreshBox(t *testing.T) {
	oldBox := harness.New(t, "[orders]\npayment_ttl = \"7m\"\n")
	prepare(t, oldBox)
	oldBox.Start()
	paid := sell(t, oldBox, "T-1", "old", 3)
	file := filepath.Join(t.TempDir(), "store.backup")
	if out, err := oldBox.Run("backup", file); err != nil {
		t.Fatalf("backup: %v\n%s", err, out)
	}
	oldBox.Kill()
	if err := os.RemoveAll(oldBox.DataDir); err != nil { // the disk died
		t.Fatal(err)
	}

	// The new box keeps its data where the old one did (the package's
	// path), but its configuration is the installer's: store "default".
	newBox := harness.New(t, "")
	installed, err := os.ReadFile(newBox.Config)
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(string(installed), `store_id = "test"`, `store_id = "default"`, 1)
	cfg = strings.Replace(cfg, newBox.DataDir, oldBox.DataDir, 1)
	if err := os.WriteFile(newBox.Config, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	newBox.DataDir = oldBox.DataDir

	if out, err := newBox.Run("restore", file); err == nil || !strings.Contains(out, `"test"`) || !strings.Contains(out, "--with-config") {
		t.Fatalf("restore of another store without --with-config: %v\n%s", err, out)
	}
	if _, err := os.Stat(newBox.DataDir); err == nil {
		t.Fatal("a refused restore made the data directory")
	}
	out, err := newBox.Run("restore", file, "--with-config")
	if err != nil || !strings.Contains(out, "restored store test") || !strings.Contains(out, "configuration restored to "+newBox.Config) ||
		!strings.Contains(out, "the previous one is kept at") {
		t.Fatalf("restore --with-config: %v\n%s", err, out)
	}
	b, err := os.ReadFile(newBox.Config)
	if err != nil || !strings.Contains(string(b), `store_id = "test"`) || !strings.Contains(string(b), `payment_ttl = "7m"`) {
		t.Fatalf("configuration after the restore (%v):\n%s", err, b)
	}
	kept, _ := filepath.Glob(newBox.Config + ".before-restore-*")
	if len(kept) != 1 {
		t.Fatalf("the installer's configuration kept aside: %v", kept)
	}
	if b, err := os.ReadFile(kept[0]); err != nil || !strings.Contains(string(b), `store_id = "default"`) {
		t.Fatalf("kept configuration (%v):\n%s", err, b)
	}
	storetest.CheckFile(t, filepath.Join(newBox.DataDir, store.FileName))

	newBox.Start()
	dev, err := newBox.Dial("T-1")
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	dev.Login(t, nil)
	for _, oid := range paid {
		r, err := dev.Call("getOrder", map[string]any{"oid": oid})
		ord, _ := r.Body["order"].(map[string]any)
		if st, _ := ord["status"].(string); err != nil || r.Exception() != "" || st != "paid" {
			t.Errorf("order %s of the old box: %v %v", oid, r.Body, err)
		}
	}
	// The old store's payment_ttl runs: a new order expires in 7 minutes.
	r, err := dev.Call("getPayInfo", map[string]any{"order_id": "new-1", "pay_method": "cash",
		"lines": []any{map[string]any{"gid": "10001", "qty": 1}}})
	if err != nil || r.Exception() != "" {
		t.Fatalf("getPayInfo: %v %v", r.Body, err)
	}
	exp, _ := time.Parse(time.RFC3339Nano, r.Body["expires_at"].(string))
	if left := time.Until(exp); left < 6*time.Minute || left > 7*time.Minute+5*time.Second {
		t.Errorf("a new order expires in %s, want the backup's payment_ttl of 7m (%v)", left, r.Body)
	}
}
