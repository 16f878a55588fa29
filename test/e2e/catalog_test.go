package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/storebox/storebox/test/harness"
)

func TestCatalogImportExportRoundTrip(t *testing.T) {
	d := harness.New(t, "")
	for _, format := range []string{"csv", "jsonl"} {
		t.Run(format, func(t *testing.T) {
			src := filepath.Join(harness.ModuleRoot(), "packaging", "sample", "catalog."+format)
			if out, err := d.Run("catalog", "import", "--replace", src); err != nil {
				t.Fatalf("%v %s", err, out)
			}
			exp1, err := d.Run("catalog", "export", "--format", format)
			if err != nil {
				t.Fatalf("%v %s", err, exp1)
			}
			// Export → import into a fresh store → export is a fixed point.
			d2 := harness.New(t, "")
			f := filepath.Join(t.TempDir(), "exp."+format)
			os.WriteFile(f, []byte(exp1), 0o644)
			if out, err := d2.Run("catalog", "import", f); err != nil {
				t.Fatalf("%v %s", err, out)
			}
			exp2, _ := d2.Run("catalog", "export", "--format", format)
			if exp1 != exp2 || len(exp1) < 1000 {
				t.Fatalf("round trip differs:\n%s\n---\n%s", exp1, exp2)
			}
		})
	}
}

func TestCatalogImportAllOrNothingThroughDaemon(t *testing.T) {
	d := harness.New(t, "")
	d.Start()
	if out, err := d.Run("catalog", "import", filepath.Join(harness.ModuleRoot(), "packaging", "sample", "catalog.csv")); err != nil || !strings.Contains(out, "through the running daemon") {
		t.Fatalf("import via API: %v %s", err, out)
	}
	bad := filepath.Join(t.TempDir(), "bad.csv")
	os.WriteFile(bad, []byte("gid,gname,price,unit\nX1,Ok,100,pcs\nX2,Bad,12.5,pcs\n"), 0o644)
	out, err := d.Run("catalog", "import", bad)
	if err == nil || !strings.Contains(out, "line 3") || !strings.Contains(out, "price") {
		t.Fatalf("bad row: %v %s", err, out)
	}
	dev, _ := d.Dial("T-1")
	dev.Login(t, nil)
	if r, _ := dev.Call("getGoods", map[string]any{"gid": "X1"}); r.Code() != "not_found" {
		t.Fatalf("row from failed import visible: %s", r.Raw)
	}
}

func TestDevicesPairingThroughCLI(t *testing.T) {
	d := harness.New(t, "")
	// Switch to pairing for this test.
	cfg, _ := os.ReadFile(d.Config)
	os.WriteFile(d.Config, []byte(strings.Replace(string(cfg), `admission = "open"`, `admission = "pairing"`, 1)), 0o644)
	d.Start()
	dev, _ := d.Dial("T-NEW")
	if r, _ := dev.Call("login", map[string]any{}); r.Code() != "pending_approval" {
		t.Fatalf("want pending: %s", r.Raw)
	}
	out, err := d.Run("devices")
	if err != nil || !strings.Contains(out, "T-NEW") || !strings.Contains(out, "pending") {
		t.Fatalf("devices: %v %s", err, out)
	}
	if out, err := d.Run("devices", "approve", "T-NEW"); err != nil || !strings.Contains(out, "approved") {
		t.Fatalf("approve: %v %s", err, out)
	}
	dev.Login(t, nil)
	out, _ = d.Run("client", "--addr", d.DevAddr, "--equip", "T-NEW", "getGoods", "code=6921168509256")
	if !strings.Contains(out, "getGoodsReturn") {
		t.Fatalf("client: %s", out)
	}
}
