package config

import (
	"runtime"
	"strings"
	"testing"
)

// spooler:NAME is a printer in the Windows print spooler: accepted on
// Windows, refused elsewhere by file, line and key.
func TestSpoolerPrinterOnlyOnWindows(t *testing.T) {
	doc := "[[printers]]\nid = \"front\"\nconnect = \"spooler:EPSON TM-T20II Receipt\"\n"
	c, err := Parse("c.toml", []byte(doc))
	if runtime.GOOS == "windows" {
		if err != nil || c.Printers[0].Connect != "spooler:EPSON TM-T20II Receipt" {
			t.Fatalf("spooler printer on Windows: %v", err)
		}
	} else if err == nil || !strings.Contains(err.Error(), `c.toml:3: printers[0].connect: "spooler:EPSON TM-T20II Receipt": spooler: printers exist only on Windows`) {
		t.Fatalf("spooler printer on %s: %v", runtime.GOOS, err)
	}
	_, err = Parse("c.toml", []byte("[[printers]]\nid = \"front\"\nconnect = \"spooler:\"\n"))
	if err == nil || !strings.Contains(err.Error(), `c.toml:3: printers[0].connect: "spooler:": name the Windows printer (spooler:NAME)`) {
		t.Fatalf("spooler: without a name: %v", err)
	}
	// A bare printer name on Windows is pointed at spooler:NAME.
	_, err = Parse("c.toml", []byte("[[printers]]\nid = \"front\"\nconnect = \"EPSON\"\n"))
	if runtime.GOOS == "windows" && (err == nil || !strings.Contains(err.Error(), `"EPSON": use spooler:NAME`)) {
		t.Fatalf("a bare name on Windows: %v", err)
	}
}
