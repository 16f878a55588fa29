//go:build !windows

package printer

import "fmt"

func openSpooler(name string) (Link, error) {
	if name == "" {
		return nil, fmt.Errorf("connect spooler:: name the Windows printer (spooler:NAME)")
	}
	return nil, fmt.Errorf("connect spooler:%s: spooler: printers exist only on Windows (here use tcp://HOST:PORT, a device path or serial:PATH@BAUD)", name)
}
