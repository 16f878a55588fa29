//go:build !unix

package store

func matchDirOwner(dir, path string) {}

// MatchDirOwner is matchDirOwner for files the daemon package creates.
func MatchDirOwner(dir, path string) {}
