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

// Like gives path the owner, group and permission bits of ref: a file that
// replaces another (a restored configuration) keeps what the package set
// up (root:storebox 0640).
func Like(ref, path string) {
	fi, err := os.Stat(ref)
	if err != nil {
		return
	}
	os.Chmod(path, fi.Mode().Perm())
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && os.Geteuid() == 0 {
		os.Chown(path, int(st.Uid), int(st.Gid))
	}
}
