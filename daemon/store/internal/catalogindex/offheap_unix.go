//go:build unix

package catalogindex

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// mapAnon returns n zeroed bytes from an anonymous private mapping,
// outside the Go heap: the collector neither scans them nor leaves
// GOGC's headroom beside them, so a million goods cost their bytes once.
func mapAnon(n int) []byte {
	b, err := unix.Mmap(-1, 0, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON)
	if err != nil {
		// Out of address space or memory: as make would, but saying why.
		panic(fmt.Sprintf("catalog index: map %d bytes: %v", n, err))
	}
	return b
}

// unmap gives a mapping from mapAnon back. Nothing may refer to it after.
func unmap(b []byte) {
	if cap(b) > 0 {
		_ = unix.Munmap(b[:cap(b)])
	}
}
