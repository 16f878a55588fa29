//go:build unix

package fleet

import (
	"fmt"
	"syscall"

	"github.com/storebox/storebox/protocol/fleetmsg"
)

// diskHealth is the space left to the daemon on dir's file system.
func diskHealth(dir string) (fleetmsg.DiskHealth, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return fleetmsg.DiskHealth{}, fmt.Errorf("statfs %s: %w", dir, err)
	}
	free, total := st.Bavail*uint64(st.Bsize), st.Blocks*uint64(st.Bsize)
	h := fleetmsg.DiskHealth{FreeBytes: free}
	if total > 0 {
		h.FreeRatio = float64(free) / float64(total)
	}
	return h, nil
}
