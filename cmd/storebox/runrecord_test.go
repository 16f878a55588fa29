package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/storebox/storebox/cmd/storebox/internal/runrecord"
	"github.com/storebox/storebox/daemon/config"
)

// Without --config the CLI follows the config `storebox run` recorded in
// the data directory, keeps that data directory, and ignores a record
// whose file is gone.
func TestLoadConfigFollowsRunRecord(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	cfgPath := filepath.Join(dir, "demo.toml")
	os.WriteFile(cfgPath, []byte("store_id = \"demo\"\ndata_dir = \"/elsewhere\"\n[devices]\nlisten = \"127.0.0.1:18686\"\n"), 0o644)
	run, err := (&globals{configPath: cfgPath, dataDir: data}).loadOwnConfig()
	if err != nil {
		t.Fatal(err)
	}
	if err := runrecord.Write(run); err != nil {
		t.Fatal(err)
	}
	c, err := (&globals{dataDir: data}).loadConfig()
	if err != nil || c.StoreID != "demo" || c.DataDir != data || c.Devices.Listen != "127.0.0.1:18686" {
		t.Fatalf("followed record: %+v %v", c, err)
	}
	// --config wins over the record.
	other := filepath.Join(dir, "other.toml")
	os.WriteFile(other, []byte("store_id = \"other\"\n"), 0o644)
	if c, err := (&globals{configPath: other, dataDir: data}).loadConfig(); err != nil || c.StoreID != "other" {
		t.Fatalf("--config: %+v %v", c, err)
	}
	// `run` itself never follows it.
	if c, err := (&globals{dataDir: data}).loadOwnConfig(); err != nil || c.StoreID != config.Default().StoreID {
		t.Fatalf("run: %+v %v", c, err)
	}
	os.Remove(cfgPath)
	if c, err := (&globals{dataDir: data}).loadConfig(); err != nil || c.StoreID != config.Default().StoreID {
		t.Fatalf("record of a removed file: %+v %v", c, err)
	}
}
