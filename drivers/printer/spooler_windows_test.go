//go:build windows

package printer_test

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"

	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/storebox/storebox/drivers/printer"
	"github.com/storebox/storebox/drivers/printer/printersim"
	"github.com/storebox/storebox/drivers/printer/winespool"
)

// A name the spooler does not know is refused at once, naming it.
func TestSpoolerMissingPrinter(t *testing.T) {
	_, err := printer.Open(t.Context(), "spooler:storebox no such printer", printer.Timeouts{})
	if err == nil || !strings.Contains(err.Error(), `spooler:storebox no such printer: no printer of that name in the Windows spooler`) {
		t.Fatalf("missing printer: %v", err)
	}
	if _, err := printer.Open(t.Context(), "spooler:bad\x00name", printer.Timeouts{}); err == nil {
		t.Fatal("a name with NUL opened")
	}
}

// Jobs reach the printer through the spooler as RAW documents, whole, in
// order, each once; the spooler's status is the printer's state; there is
// no DLE EOT on this link.
func TestSpoolerRawJobs(t *testing.T) {
	out := winespool.Install(t, "storebox-driver-test")
	_, err := printer.Open(t.Context(), "spooler:nope", printer.Timeouts{})
	if err == nil || !strings.Contains(err.Error(), `"storebox-driver-test"`) {
		t.Errorf("missing printer's error does not list the installed ones: %v", err)
	}
	l, err := printer.Open(t.Context(), "spooler:storebox-driver-test", printer.Timeouts{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if s, err := printer.ReadStatus(l); err != nil || s.State() != printer.StateOK {
		t.Fatalf("status: %+v %v", s, err)
	}
	if _, err := l.Query(1); !errors.Is(err, printer.ErrNoStatus) {
		t.Errorf("DLE EOT through the spooler: %v", err)
	}
	var want []byte
	for i, qr := range []string{"OID-1", "OID-2"} {
		b, _ := printer.Encode(printer.Doc{Lines: lines[:4+i], QR: qr, Cut: true, Drawer: i == 1}, "gb18030")
		if n, err := l.Write(b); err != nil || n != len(b) {
			t.Fatalf("job %d: %d of %d bytes, %v", i, n, len(b), err)
		}
		want = append(want, b...)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("the spooler's port got %d bytes, want %d (the two jobs byte for byte)", len(got), len(want))
	}
	evs := printersim.NewParser(simplifiedchinese.GB18030).Feed(got)
	if len(evs) < 2 || evs[0].Receipt == nil || evs[1].Receipt == nil || evs[1].Receipt.QR[0] != "OID-2" || evs[1].Receipt.Lines[3] != lines[3] {
		t.Fatalf("parsed back: %+v", evs)
	}

	// Wine's GetPrinter reports the Attributes it keeps and a Status of 0
	// always; the Status bits' meaning is TestSpoolerStatus's.
	winespool.SetAttributes(t, "storebox-driver-test", 0x400) // PRINTER_ATTRIBUTE_WORK_OFFLINE
	if s, err := printer.ReadStatus(l); err != nil || s.State() != printer.StateOffline || !strings.Contains(s.Detail, "offline") {
		t.Fatalf("work offline: %+v %v", s, err)
	}
	winespool.SetAttributes(t, "storebox-driver-test", 0)
	if s, err := printer.ReadStatus(l); err != nil || s.State() != printer.StateOK {
		t.Fatalf("back online: %+v %v", s, err)
	}
}
