package backup

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/storebox/storebox/daemon/store"
	"github.com/storebox/storebox/internal/dirowner"
)

// RestoreOptions say where a backup goes.
type RestoreOptions struct {
	DataDir string
	// ConfigPath is the configuration file; with WithConfig the backup's
	// copy replaces it (the old one kept aside).
	ConfigPath string
	WithConfig bool
	// StoreID is the store the current configuration names: a backup of
	// another store is refused unless WithConfig takes its configuration
	// too.
	StoreID string
	// CheckConfig, with WithConfig, judges the backup's configuration file
	// before anything is replaced (it must load, and keep the data where
	// it is being restored).
	CheckConfig func(b []byte) error
	Now         func() time.Time
}

// Restored says what Restore did.
type Restored struct {
	Manifest  Manifest
	Schema    uint32
	Aside     string // where the old data directory went ("" if there was none)
	ConfigSet bool   // the configuration file was replaced
	OldConfig string // where the old configuration went
}

// ErrRunning means the data directory's store is open in a running daemon.
var ErrRunning = errors.New("storebox is running on this data directory: stop it first (storebox service stop), then restore")

// Restore verifies the archive from r in a staging directory beside
// opt.DataDir (checksums, the store file's consistency check, its schema
// version), then moves the old data directory aside (renamed with a
// timestamp) and the restored one into place, marked as restored. Nothing
// is replaced until everything checked out.
func Restore(r io.Reader, opt RestoreOptions) (Restored, error) {
	now := time.Now
	if opt.Now != nil {
		now = opt.Now
	}
	var res Restored
	dataDir := filepath.Clean(opt.DataDir)
	if err := refuseRunning(dataDir); err != nil {
		return res, err
	}
	stamp := now().UTC().Format("20060102T150405Z")
	staging := dataDir + ".restoring-" + stamp
	if err := os.MkdirAll(filepath.Dir(dataDir), 0o755); err != nil {
		return res, fmt.Errorf("restore: %w", err)
	}
	if err := os.Mkdir(staging, 0o750); err != nil {
		return res, fmt.Errorf("restore: staging directory: %w", err)
	}
	done := false
	defer func() {
		if !done {
			os.RemoveAll(staging)
		}
	}()
	m, err := Read(r, func(name string) (io.WriteCloser, error) {
		f, err := os.OpenFile(filepath.Join(staging, name), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			return nil, fmt.Errorf("restore: %w", err)
		}
		return syncCloser{f}, nil
	})
	res.Manifest = m
	if err != nil {
		return res, fmt.Errorf("restore refused, nothing was changed: %w", err)
	}
	if res.Schema, err = store.CheckFile(filepath.Join(staging, StoreName)); err != nil {
		return res, fmt.Errorf("restore refused, nothing was changed: %w", err)
	}
	if opt.StoreID != "" && m.StoreID != opt.StoreID && !opt.WithConfig {
		return res, fmt.Errorf("restore refused, nothing was changed: the backup is of store %q, the configuration says %q (pass --with-config to take the backup's configuration too)", m.StoreID, opt.StoreID)
	}
	staged := filepath.Join(staging, ConfigName)
	_, statErr := os.Stat(staged)
	hasConfig := statErr == nil
	if opt.WithConfig && !hasConfig {
		return res, errors.New("restore refused, nothing was changed: the backup holds no configuration file (restore without --with-config)")
	}
	if opt.WithConfig && opt.CheckConfig != nil {
		b, err := os.ReadFile(staged)
		if err == nil {
			err = opt.CheckConfig(b)
		}
		if err != nil {
			return res, fmt.Errorf("restore refused, nothing was changed: the backup's configuration: %w", err)
		}
	}
	if err := store.MarkRestored(staging); err != nil {
		return res, fmt.Errorf("restore: %w", err)
	}
	// The service user must own what root restored.
	owner := dataDir
	if _, err := os.Stat(owner); err != nil {
		owner = filepath.Dir(dataDir)
	}
	dirowner.Match(owner, staging)
	entries, _ := os.ReadDir(staging)
	for _, e := range entries {
		dirowner.Match(owner, filepath.Join(staging, e.Name()))
	}

	if _, err := os.Stat(dataDir); err == nil {
		res.Aside = dataDir + ".before-restore-" + stamp
		if err := os.Rename(dataDir, res.Aside); err != nil {
			return res, fmt.Errorf("restore: move the old data directory aside: %w", err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return res, fmt.Errorf("restore: %w", err)
	}
	if err := os.Rename(staging, dataDir); err != nil {
		return res, fmt.Errorf("restore: move %s into place: %w (the old directory is at %s)", staging, err, res.Aside)
	}
	done = true
	if !hasConfig {
		return res, nil
	}
	// The configuration lives outside the data directory.
	staged = filepath.Join(dataDir, ConfigName)
	if !opt.WithConfig || opt.ConfigPath == "" {
		return res, os.Remove(staged)
	}
	if _, err := os.Stat(opt.ConfigPath); err == nil {
		dirowner.Like(opt.ConfigPath, staged)
		res.OldConfig = opt.ConfigPath + ".before-restore-" + stamp
		if err := os.Rename(opt.ConfigPath, res.OldConfig); err != nil {
			return res, fmt.Errorf("restore: the data directory is restored, but the old configuration could not be kept aside: %w", err)
		}
	}
	if err := os.Rename(staged, opt.ConfigPath); err != nil {
		return res, fmt.Errorf("restore: the data directory is restored, but not the configuration: %w", err)
	}
	res.ConfigSet = true
	return res, nil
}

// refuseRunning fails when a process holds the store file's lock.
func refuseRunning(dataDir string) error {
	path := filepath.Join(dataDir, StoreName)
	if _, err := os.Stat(path); err != nil {
		return nil
	}
	if errors.Is(store.CheckUnlocked(path), store.ErrLocked) {
		return ErrRunning
	}
	return nil
}

// syncCloser makes a restored file durable before it is renamed into place.
type syncCloser struct{ f *os.File }

func (s syncCloser) Write(p []byte) (int, error) { return s.f.Write(p) }
func (s syncCloser) Close() error {
	if err := s.f.Sync(); err != nil {
		s.f.Close()
		return err
	}
	return s.f.Close()
}
