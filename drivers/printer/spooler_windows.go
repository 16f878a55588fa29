//go:build windows

package printer

import "fmt"

// openSpooler is not written yet: spooler:NAME needs winspool's
// OpenPrinter/StartDocPrinter/WritePrinter with the RAW data type.
func openSpooler(name string) (Link, error) {
	return nil, fmt.Errorf("connect spooler:%s: printing through the Windows spooler is not supported yet; use tcp:// or the COM port (serial:COM3@9600)", name)
}
