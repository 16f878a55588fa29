package listen

import (
	"syscall"

	"golang.org/x/sys/windows"
)

// describe words the Winsock errors a bind meets as Linux does ("address
// already in use", not Windows' "Only one usage of each socket address…"
// or, where no message table is installed, "winapi error #10048"), and
// keeps errors.Is working for both the Winsock errno and Go's portable one.
func describe(errno syscall.Errno) error {
	switch errno {
	case windows.WSAEADDRINUSE:
		return wsaError{errno, syscall.EADDRINUSE, "address already in use"}
	case windows.WSAEACCES:
		return wsaError{errno, syscall.EACCES, "permission denied (another program holds the port exclusively, or it is reserved: netsh int ipv4 show excludedportrange)"}
	case windows.WSAEADDRNOTAVAIL:
		return wsaError{errno, syscall.EADDRNOTAVAIL, "cannot assign requested address (not an address of this machine)"}
	}
	return errno
}

type wsaError struct {
	errno, portable syscall.Errno
	text            string
}

func (e wsaError) Error() string { return e.text }
func (e wsaError) Unwrap() error { return e.errno }
func (e wsaError) Is(target error) bool {
	t, ok := target.(syscall.Errno)
	return ok && t == e.portable
}
