//go:build windows

package printing

import (
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/storebox/storebox/drivers/printer"
	"github.com/storebox/storebox/drivers/printer/printersim"
	"github.com/storebox/storebox/drivers/printer/winespool"
)

// A printer in the Windows spooler (under Wine: one whose port appends to a
// file): jobs are held while the spooler reports it offline, then printed
// once each, in order; a spooler link answers no DLE EOT, and that is
// neither a fault nor a reason to send a job again.
func TestSpoolerPrinterPrintsOnceInOrder(t *testing.T) {
	out := winespool.Install(t, "storebox-printing-test")
	winespool.SetAttributes(t, "storebox-printing-test", 0x400) // PRINTER_ATTRIBUTE_WORK_OFFLINE
	e := newEnv(t, Printer{ID: "win", Connect: "spooler:storebox-printing-test", Terminals: []string{"*"}, Cut: true})
	var oids []string
	for range 3 {
		oids = append(oids, e.pay("T-01"))
	}
	waitFor(t, "offline", func() bool { s := e.prn.States()[0]; return s.State == printer.StateOffline && s.Fault })
	if s := e.prn.States()[0]; s.Queued != 3 || !strings.Contains(s.Error, "Windows spooler") {
		t.Fatalf("state while the spooler says offline: %+v", s)
	}
	if b, _ := os.ReadFile(out); len(b) != 0 {
		t.Fatalf("%d bytes reached an offline printer", len(b))
	}
	winespool.SetAttributes(t, "storebox-printing-test", 0)
	waitFor(t, "the queue to empty", func() bool { s := e.prn.States()[0]; return s.Queued == 0 && s.State == printer.StateOK && !s.Fault })
	time.Sleep(500 * time.Millisecond) // status rounds: nothing more may print
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ev := range printersim.NewParser(simplifiedchinese.GB18030).Feed(b) {
		if ev.Receipt != nil {
			got = append(got, oidOf(*ev.Receipt))
		}
	}
	if strings.Join(got, " ") != strings.Join(oids, " ") {
		t.Fatalf("printed %q, want %q once each in order", got, oids)
	}
	if s := e.prn.States()[0]; s.Printed != 3 || s.Error != "" {
		t.Fatalf("state after printing: %+v", s)
	}
}
