//go:build !linux

package store

// ReleaseMapped is a no-op where madvise is not used.
func (s *Store) ReleaseMapped() error { return nil }
