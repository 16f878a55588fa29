//go:build unix

package doctor

import "syscall"

// canReadWrite checks read and write permission without opening the port
// (opening a serial port can reset some scales).
func canReadWrite(path string) error { return syscall.Access(path, 6 /* R_OK|W_OK */) }
