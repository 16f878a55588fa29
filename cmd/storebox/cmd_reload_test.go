package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/storebox/storebox/daemon/config"
	"github.com/storebox/storebox/daemon/daemontest"
)

// TestReloadCommand: `storebox reload` reaches the running daemon through
// its local API with the admin token from the data directory (the way on
// Windows, which has no SIGHUP); a config file that no longer loads is
// reported and changes nothing.
func TestReloadCommand(t *testing.T) {
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "storebox.toml")
	text := fmt.Sprintf("store_id = \"s-reload\"\ndata_dir = %q\n[devices]\nlisten = \"127.0.0.1:0\"\nadmission = \"pairing\"\n"+
		"[discovery]\nlisten = \"\"\n[mqtt]\nlisten = \"\"\n[http]\nlisten = \"127.0.0.1:0\"\n", filepath.Join(dir, "data"))
	write := func(s string) {
		if err := os.WriteFile(cfgFile, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(text)
	cfg, err := config.Load(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	d := daemontest.Start(t, cfg, "9.9.9-test")
	d.SetConfigSource(func() (*config.Config, error) { return config.Load(cfgFile) }) // as `storebox run` does
	run := func() (string, error) {
		c := reloadCommand(&globals{configPath: cfgFile})
		var out bytes.Buffer
		c.SetOut(&out)
		c.SetErr(&out)
		c.SetArgs(nil)
		err := c.Execute()
		return out.String(), err
	}
	write(strings.Replace(text, `admission = "pairing"`, `admission = "open"`, 1))
	if out, err := run(); err != nil || !strings.Contains(out, "configuration reloaded") {
		t.Fatalf("reload: %q %v", out, err)
	}
	write(strings.Replace(text, `admission = "pairing"`, `admission = "sometimes"`, 1))
	if out, err := run(); err == nil || !strings.Contains(err.Error(), "devices.admission") {
		t.Fatalf("reload of a bad file: %q %v", out, err)
	}
}
