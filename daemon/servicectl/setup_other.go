//go:build !windows

package servicectl

import (
	"errors"
	"io"

	"github.com/storebox/storebox/daemon/config"
)

// SetupWindows is Windows' (the MSI's custom action).
func SetupWindows(*config.Config, string, io.Writer) error {
	return errors.New("storebox service windows-setup is for Windows")
}

// RemoveWindows is Windows'.
func RemoveWindows(string, io.Writer) {}

// EnsureWindowsConfig is Windows'.
func EnsureWindowsConfig(string) (bool, error) {
	return false, errors.New("the default Windows config is written on Windows only")
}
