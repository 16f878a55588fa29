//go:build unix

package store

import (
	"os"
	"syscall"
)

// matchDirOwner gives a file created by root (a technician running the CLI
// with sudo) to the data directory's owner, so the service user can still
// open it.
func matchDirOwner(dir, path string) {
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

// MatchDirOwner is matchDirOwner for files the daemon package creates.
func MatchDirOwner(dir, path string) { matchDirOwner(dir, path) }
