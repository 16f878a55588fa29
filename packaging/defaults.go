// Package packaging holds what the .deb installs besides the binary and the
// unit: the commented default configuration. `storebox service install`
// writes the same file when none exists, so both installs behave alike.
package packaging

import (
	_ "embed"
	"strings"
)

// DefaultConfig is storebox.toml as installed at /etc/storebox/storebox.toml:
// every key with its default, commented out, and data_dir set to the
// service's state directory.
//
//go:embed storebox.toml
var DefaultConfig []byte

// InstalledDataDir is the data_dir DefaultConfig sets (the unit's StateDirectory).
const InstalledDataDir = "/var/lib/storebox"

// windowsEdits turn DefaultConfig into the Windows one: its path, how to
// apply a change, who may read it, and data_dir left to the default
// (%ProgramData%\storebox\data).
var windowsEdits = []struct{ linux, windows string }{
	{"# storebox configuration: /etc/storebox/storebox.toml\n", "# storebox configuration: %ProgramData%\\storebox\\storebox.toml\n"},
	{"#   storebox config check /etc/storebox/storebox.toml\n#   systemctl restart storebox\n",
		"#   storebox config check \"%ProgramData%\\storebox\\storebox.toml\"\n#   storebox reload            (doors, admission, payment TTL)\n#   storebox service restart   (everything else)\n"},
	{"# it is readable by root and group storebox only.\n", "# it is readable by SYSTEM and Administrators only.\n"},
	{"# only write to /var/lib/storebox (its StateDirectory); run by hand, the default\n# is \"./storebox-data\".\ndata_dir = \"/var/lib/storebox\"\n",
		"# keeps it in %ProgramData%\\storebox\\data, readable by SYSTEM and\n# Administrators only, which is also the default.\n# data_dir = 'C:\\ProgramData\\storebox\\data'\n"},
}

// WindowsConfig is DefaultConfig for Windows, with CRLF line ends (for
// Notepad): what `storebox service install` and the MSI's setup write to
// %ProgramData%\storebox\storebox.toml when it is missing, never over an
// existing one.
func WindowsConfig() []byte {
	s := string(DefaultConfig)
	for _, e := range windowsEdits {
		s = strings.Replace(s, e.linux, e.windows, 1)
	}
	return []byte(strings.ReplaceAll(s, "\n", "\r\n"))
}
