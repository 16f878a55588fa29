// Package nulltime writes an unset time as JSON null, never as
// 0001-01-01T00:00:00Z, so API members keep one shape: a time or null.
package nulltime

import "time"

// Of returns nil for the zero time and &t otherwise, for a *time.Time
// member that encodes as null when unset.
func Of(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
