//go:build unix

// Package dirowner gives files root creates in a data directory to the
// directory's owner.
package dirowner

import (
	"os"
	"syscall"
)

// Match gives a file created by root (a technician running the CLI with
// sudo) to the data directory's owner, so the service user can still open
// it. It does nothing for other users or a root-owned directory.
func Match(dir, path string) {
	if os.Geteuid() != 0 {
		return
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || st.Uid == 0 {
		return
	}
	os.Chown(path, int(st.Uid), int(st.Gid))
}
