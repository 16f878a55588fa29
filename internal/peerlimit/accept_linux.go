package peerlimit

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"syscall"
)

// drainsRaw says acceptRaw drains a listener's queue here.
const drainsRaw = true

// acceptRaw takes what is queued on ln with accept4 on its descriptor: a
// dropped connection is closed right there, and the loop goes on without
// the runtime registering, wrapping or configuring it (keep-alive,
// no-delay). The first one not dropped becomes a net.Conn through
// net.FileConn, which sets it up as ln.Accept would (no-delay, keep-alive
// at Go's default). ok is false when nothing more is queued (or ln's
// descriptor is not to be had): then wait in ln.Accept; drops is how many
// it dropped meanwhile. A listener's descriptor cannot be waited on from
// outside the runtime, so a flood is drained here and a quiet listener
// waits as before.
func acceptRaw(ln *net.TCPListener, decide func(netip.Prefix) verdict) (c net.Conn, k netip.Prefix, v verdict, ok bool, drops int, err error) {
	rc, err := ln.SyscallConn()
	if err != nil {
		return nil, k, none, false, 0, nil
	}
	nfd := -1
	var aerr error
	cerr := rc.Control(func(fd uintptr) {
		for {
			var sa syscall.Sockaddr
			var err error
			nfd, sa, err = syscall.Accept4(int(fd), syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC)
			switch {
			case errors.Is(err, syscall.EINTR), errors.Is(err, syscall.ECONNABORTED):
				continue
			case errors.Is(err, syscall.EAGAIN):
				return
			case err != nil:
				aerr = err
				return
			}
			k = keyOfSockaddr(sa)
			if v = decide(k); v != drop {
				return
			}
			syscall.Close(nfd)
			drops++
		}
	})
	switch {
	case cerr != nil:
		return nil, k, none, false, drops, nil
	case aerr != nil:
		// As ln.Accept reports it: EMFILE and the like are Temporary.
		return nil, k, none, true, drops, &net.OpError{Op: "accept", Net: "tcp", Addr: ln.Addr(), Err: os.NewSyscallError("accept4", aerr)}
	case nfd < 0:
		return nil, k, none, false, drops, nil
	}
	f := os.NewFile(uintptr(nfd), "")
	c, err = net.FileConn(f)
	f.Close()
	if err != nil {
		// v is returned: the caller undoes what decide took for it.
		return nil, k, v, true, drops, &net.OpError{Op: "accept", Net: "tcp", Addr: ln.Addr(), Err: err}
	}
	return c, k, v, true, drops, nil
}

func keyOfSockaddr(sa syscall.Sockaddr) netip.Prefix {
	switch sa := sa.(type) {
	case *syscall.SockaddrInet4:
		return Key(netip.AddrFrom4(sa.Addr))
	case *syscall.SockaddrInet6:
		return Key(netip.AddrFrom16(sa.Addr))
	}
	return netip.Prefix{}
}
