// Package diskspace reads the free and total space of the file system that
// holds a directory, on Unix (statfs) and Windows (GetDiskFreeSpaceEx).
package diskspace

// Space is what a directory's file system has: Free is what the calling
// user may still use (quotas and root's reserve taken off), Total its size.
type Space struct {
	Free, Total uint64
}

// FreeRatio is Free/Total, 0 when Total is unknown.
func (s Space) FreeRatio() float64 {
	if s.Total == 0 {
		return 0
	}
	return float64(s.Free) / float64(s.Total)
}
