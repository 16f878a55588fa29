//go:build !windows

package printer

import "fmt"

func openSpooler(name string) (Link, error) {
	return nil, fmt.Errorf("connect spooler:%s: the Windows print spooler exists only on Windows", name)
}
