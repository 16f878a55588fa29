// Package systemd carries storebox's own systemd unit, so the .deb and
// `storebox service install` ship the same hardened file.
package systemd

import _ "embed"

// Unit is storebox.service exactly as shipped at
// /usr/lib/systemd/system/storebox.service. Its ExecStart names
// DefaultExecutable and DefaultConfig.
//
//go:embed storebox.service
var Unit []byte

// Paths written in Unit's ExecStart line.
const (
	DefaultExecutable = "/usr/bin/storebox"
	DefaultConfig     = "/etc/storebox/storebox.toml"
)
