//go:build unix

package doctor

import "syscall"

// freeBytes is the space available to unprivileged users on path's disk.
func freeBytes(path string) (uint64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return 0, err
	}
	return st.Bavail * uint64(st.Bsize), nil
}

// canReadWrite checks read and write permission without opening the port
// (opening a serial port can reset some scales).
func canReadWrite(path string) error { return syscall.Access(path, 6 /* R_OK|W_OK */) }
