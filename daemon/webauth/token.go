package webauth

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// AdminTokenFile is the admin token's file in the data directory.
const AdminTokenFile = "admin.token"

// LoadAdminToken returns the configured admin token, or the one in the
// data directory, creating it (mode 0600) at first start. created tells
// the caller to give the new file the data directory's owner.
func LoadAdminToken(dataDir, configured string) (tok, path string, created bool, err error) {
	if configured != "" {
		return configured, "", false, nil
	}
	if err := os.MkdirAll(dataDir, 0o750); err != nil {
		return "", "", false, fmt.Errorf("data directory %s: %w", dataDir, err)
	}
	path = filepath.Join(dataDir, AdminTokenFile)
	if b, err := os.ReadFile(path); err == nil {
		if t := strings.TrimSpace(string(b)); t != "" {
			return t, path, false, nil
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", "", false, fmt.Errorf("read admin token: %w", err)
	}
	var raw [24]byte
	rand.Read(raw[:])
	tok = hex.EncodeToString(raw[:])
	if err := os.WriteFile(path, []byte(tok+"\n"), 0o600); err != nil {
		return "", "", false, fmt.Errorf("create admin token %s: %w", path, err)
	}
	return tok, path, true, nil
}

// ReadAdminToken is the token a local client (the CLI, doctor) sends:
// the configured one, or the data directory's file.
func ReadAdminToken(dataDir, configured string) (string, error) {
	if configured != "" {
		return configured, nil
	}
	b, err := os.ReadFile(filepath.Join(dataDir, AdminTokenFile))
	if err != nil {
		return "", fmt.Errorf("read admin token (run as the storebox user or root?): %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}
