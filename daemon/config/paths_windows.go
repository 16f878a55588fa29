package config

import (
	"os"
	"path/filepath"
)

// Default paths on Windows: where the MSI puts the config and where the
// service keeps its data, under %ProgramData%\storebox. A daemon run by
// hand uses the same data directory, so the CLI finds the service's
// daemon with no flags.
var (
	DefaultConfigPath     = filepath.Join(programData(), "storebox", "storebox.toml")
	DefaultInstallDataDir = filepath.Join(programData(), "storebox", "data")
	DefaultHandDataDir    = DefaultInstallDataDir
)

// programData is %ProgramData% (C:\ProgramData when unset).
func programData() string {
	if pd := os.Getenv("ProgramData"); pd != "" {
		return pd
	}
	return `C:\ProgramData`
}
