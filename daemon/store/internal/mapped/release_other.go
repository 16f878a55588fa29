//go:build !linux

// Package mapped releases a bbolt file's mapped pages from the process.
package mapped

import "go.etcd.io/bbolt"

// Release is a no-op where madvise is not used.
func Release(db *bbolt.DB) error { return nil }
