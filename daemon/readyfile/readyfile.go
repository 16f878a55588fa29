// Package readyfile is <data_dir>/ready.json: written by a daemon once
// every listener is up, with its pid and the addresses its listeners are
// bound to, and removed when it stops cleanly. Tools read it to reach a
// listener configured on port 0 (tests run the daemon that way, so no port
// is ever picked, released and hoped to be still free).
package readyfile

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
)

// Name is the file's name inside the data directory.
const Name = "ready.json"

// File is what a ready daemon records. An empty address is a listener
// that is off.
type File struct {
	PID       int      `json:"pid"`
	Devices   string   `json:"devices"`
	HTTP      string   `json:"http,omitempty"`
	MQTT      string   `json:"mqtt,omitempty"`
	MQTTTLS   string   `json:"mqtt_tls,omitempty"`
	Discovery []string `json:"discovery,omitempty"`
}

// Write records f in dataDir, replacing the file atomically.
func Write(dataDir string, f File) error {
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	path := filepath.Join(dataDir, Name)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// Remove deletes the file (a clean stop). A missing file is fine.
func Remove(dataDir string) error {
	err := os.Remove(filepath.Join(dataDir, Name))
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	return nil
}

// Read returns the file in dataDir. After a kill -9 it may describe a
// daemon that is gone: compare PID, or just dial and see.
func Read(dataDir string) (File, error) {
	var f File
	b, err := os.ReadFile(filepath.Join(dataDir, Name))
	if err != nil {
		return f, err
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return f, fmt.Errorf("%s: %w", filepath.Join(dataDir, Name), err)
	}
	return f, nil
}

// Resolve returns listen, the configured address of a listener, unless
// its port is 0: then the address the running daemon recorded, picked
// from the file by bound (listen itself when there is no record).
func Resolve(dataDir, listen string, bound func(File) string) string {
	if _, port, err := net.SplitHostPort(listen); err != nil || port != "0" {
		return listen
	}
	f, err := Read(dataDir)
	if err != nil || bound(f) == "" {
		return listen
	}
	return bound(f)
}

// Elsewhere says why the daemon answering at addr (host:port) does not
// run from dataDir, or "" when dataDir's ready file names addr's port: a
// CLI holding dataDir's admin token then knows a refusal means another
// data directory, not a wrong token.
func Elsewhere(dataDir, addr string) string {
	if abs, err := filepath.Abs(dataDir); err == nil {
		dataDir = abs
	}
	f, err := Read(dataDir)
	if err != nil {
		return "no daemon records itself as running from " + dataDir
	}
	_, want, err1 := net.SplitHostPort(addr)
	_, got, err2 := net.SplitHostPort(f.HTTP)
	if err1 != nil || err2 != nil || want != got {
		return fmt.Sprintf("the daemon of %s listens on %s, not %s", dataDir, f.HTTP, addr)
	}
	return ""
}
