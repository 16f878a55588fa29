package daemon

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/storebox/storebox/daemon/config"
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
