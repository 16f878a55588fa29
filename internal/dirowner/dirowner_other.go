//go:build !unix

// Package dirowner gives files root creates in a data directory to the
// directory's owner.
package dirowner

import "os"

// Match does nothing where files have no Unix owner.
func Match(dir, path string) {}

// Like gives path the permission bits of ref (no owner where files have
// none).
func Like(ref, path string) {
	if fi, err := os.Stat(ref); err == nil {
		os.Chmod(path, fi.Mode().Perm())
	}
}
