package diskspace

import (
	"fmt"

	"golang.org/x/sys/windows"
)

// Of reads the space of dir's volume with GetDiskFreeSpaceEx; Free is what
// the caller may use (per-user quotas applied).
func Of(dir string) (Space, error) {
	p, err := windows.UTF16PtrFromString(dir)
	if err != nil {
		return Space{}, fmt.Errorf("disk space of %s: %w", dir, err)
	}
	var free, total, totalFree uint64
	if err := windows.GetDiskFreeSpaceEx(p, &free, &total, &totalFree); err != nil {
		return Space{}, fmt.Errorf("GetDiskFreeSpaceEx %s: %w", dir, err)
	}
	return Space{Free: free, Total: total}, nil
}
