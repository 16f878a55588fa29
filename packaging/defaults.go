// Package packaging holds what the .deb installs besides the binary and the
// unit: the commented default configuration. `storebox service install`
// writes the same file when none exists, so both installs behave alike.
package packaging

import _ "embed"

// DefaultConfig is storebox.toml as installed at /etc/storebox/storebox.toml:
// every key with its default, commented out, and data_dir set to the
// service's state directory.
//
//go:embed storebox.toml
var DefaultConfig []byte

// InstalledDataDir is the data_dir DefaultConfig sets (the unit's StateDirectory).
const InstalledDataDir = "/var/lib/storebox"
