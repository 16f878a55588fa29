//go:build !windows

package printer_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/storebox/storebox/drivers/printer"
	"github.com/storebox/storebox/drivers/printer/printersim"
)

// A pseudo-terminal stands in for the serial port: the simulator reads the
// pty's master side, the driver opens the slave as serial:PATH@BAUD.
func TestSerialLinkOnPty(t *testing.T) {
	sim := printersim.New(simplifiedchinese.GB18030)
	path, stop, err := sim.ServePTY()
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	l, err := printer.Open(t.Context(), "serial:"+path+"@9600", printer.Timeouts{Query: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if s, err := printer.ReadStatus(l); err != nil || !s.Ready() {
		t.Fatalf("status over the pty: %+v %v", s, err)
	}
	b, _ := printer.Encode(printer.Doc{Lines: lines[:4], Cut: true}, "gb18030")
	if _, err := l.Write(b); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	rs, err := sim.WaitReceipts(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(rs[0].Lines, "|") != strings.Join(lines[:4], "|") {
		t.Fatalf("printed %q", rs[0].Lines)
	}
	sim.SetPaper(false)
	if s, err := printer.ReadStatus(l); err != nil || s.State() != printer.StatePaperEnd {
		t.Fatalf("paper end over the pty: %+v %v", s, err)
	}
}
