//go:build !windows

package listen

import "syscall"

// describe is the errno itself: its text is already the POSIX wording.
func describe(errno syscall.Errno) error { return errno }
