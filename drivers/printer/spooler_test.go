package printer_test

import (
	"runtime"
	"strings"
	"testing"

	"github.com/storebox/storebox/drivers/printer"
)

// spooler:NAME is parsed on every platform; elsewhere than Windows it is
// refused with a reason, and nowhere is an empty name opened.
func TestSpoolerLinkParse(t *testing.T) {
	if _, err := printer.Open(t.Context(), "spooler:", printer.Timeouts{}); err == nil || !strings.Contains(err.Error(), "name the Windows printer") {
		t.Errorf("spooler: with no name: %v", err)
	}
	if runtime.GOOS == "windows" {
		return // opening a named printer: spooler_windows_test.go
	}
	_, err := printer.Open(t.Context(), "spooler:EPSON TM-T20II Receipt", printer.Timeouts{})
	if err == nil || !strings.Contains(err.Error(), "spooler: printers exist only on Windows") || !strings.Contains(err.Error(), "EPSON TM-T20II Receipt") {
		t.Errorf("spooler link on %s: %v", runtime.GOOS, err)
	}
}
