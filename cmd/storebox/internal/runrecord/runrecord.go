// Package runrecord keeps, in the data directory, the path of the config
// the daemon last ran with, so CLI commands run without --config talk
// about the same store.
package runrecord

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/storebox/storebox/daemon/config"
)

// Follow is the config the daemon last ran with, when c's data directory
// records one other than c's own file; else c. With followDataDir (no
// --data-dir given), a record naming another data directory (`make run
// DATA=dir` leaves one in the default data directory) is followed there:
// the CLI run from the clone talks to the daemon make started.
func Follow(c *config.Config, followDataDir bool) (*config.Config, error) {
	rec, ok := Read(c.DataDir)
	if ok && followDataDir && rec.DataDir != "" && !sameFile(rec.DataDir, c.DataDir) {
		if _, err := os.Stat(rec.DataDir); err == nil {
			rc, err := config.Load(rec.Config) // "": the embedded defaults
			if err != nil {
				return nil, fmt.Errorf("the config `make run` last ran with (recorded in %s): %w", filepath.Join(c.DataDir, File), err)
			}
			rc.DataDir = rec.DataDir
			return rc, nil
		}
	}
	if !ok || rec.Config == "" || sameFile(rec.Config, c.Path) {
		return c, nil
	}
	if _, err := os.Stat(rec.Config); errors.Is(err, fs.ErrNotExist) {
		return c, nil // a demo config removed since: nothing to follow
	}
	rc, err := config.Load(rec.Config)
	if err != nil {
		return nil, fmt.Errorf("the config the daemon last ran with (recorded in %s): %w", filepath.Join(c.DataDir, File), err)
	}
	rc.DataDir = c.DataDir // the record was found there, whatever data_dir the file says
	return rc, nil
}

// File, in the data directory, names the config file the daemon
// last ran with.
const File = "run.json"

// Record is what the file holds.
type Record struct {
	Config string `json:"config"` // absolute path; "" for the embedded defaults
	// DataDir, when set, is where that daemon keeps its data instead of
	// this directory (written by `make run DATA=dir` into the default
	// data directory, where the CLI without flags looks).
	DataDir string `json:"data_dir,omitempty"`
}

// Write notes cfg's file in its data directory for the CLI.
func Write(cfg *config.Config) error {
	rec := Record{}
	if cfg.Path != "" {
		abs, err := filepath.Abs(cfg.Path)
		if err != nil {
			return err
		}
		rec.Config = abs
	}
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return err
	}
	b, _ := json.Marshal(rec)
	tmp := filepath.Join(cfg.DataDir, File+".tmp")
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(cfg.DataDir, File))
}

// Read is the record in dataDir, if there is a readable one.
func Read(dataDir string) (Record, bool) {
	var rec Record
	b, err := os.ReadFile(filepath.Join(dataDir, File))
	if err != nil || json.Unmarshal(b, &rec) != nil {
		return rec, false
	}
	return rec, true
}

// sameFile reports whether a and b name the same file (or are both empty).
func sameFile(a, b string) bool {
	if a == "" || b == "" {
		return a == b
	}
	fa, err1 := os.Stat(a)
	fb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(fa, fb)
}
