package config

import (
	"os"
	"path/filepath"
	"testing"
)

// TestWindowsDefaultPaths: on Windows the config and the data live under
// %ProgramData%\storebox, where the MSI and the service put them, so the
// CLI run with no flags finds the service's daemon (before: \etc\storebox
// on the current drive and .\storebox-data).
func TestWindowsDefaultPaths(t *testing.T) {
	pd := os.Getenv("ProgramData")
	if pd == "" {
		t.Skip("no %ProgramData%")
	}
	if want := filepath.Join(pd, "storebox", "storebox.toml"); DefaultConfigPath != want {
		t.Errorf("DefaultConfigPath %q, want %q", DefaultConfigPath, want)
	}
	c, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(pd, "storebox", "data"); c.DataDir != want {
		t.Errorf("default data_dir %q, want %q", c.DataDir, want)
	}
}
