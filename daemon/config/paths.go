//go:build !windows

package config

// Installed default paths (PROTOCOL.md §1). Windows has its own (paths_windows.go).
const (
	DefaultConfigPath     = "/etc/storebox/storebox.toml"
	DefaultInstallDataDir = "/var/lib/storebox"
	DefaultHandDataDir    = "./storebox-data"
)
