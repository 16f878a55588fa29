package doctor

import (
	"context"
	"net"
	"strings"
	"testing"

	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/storebox/storebox/daemon/config"
	"github.com/storebox/storebox/drivers/printer/printersim"
)

func TestCheckPrinters(t *testing.T) {
	sim := printersim.New(simplifiedchinese.GB18030)
	if err := sim.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { sim.Serve(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	off := ln.Addr().String()
	ln.Close()

	cfg := config.Default()
	cfg.Printers = []config.Printer{{ID: "front", Connect: "tcp://" + sim.Addr()}, {ID: "off", Connect: "tcp://" + off}}
	rs := checkPrinters(t.Context(), cfg, &daemonInfo{})
	if len(rs) != 2 || rs[0].Level != OK || rs[1].Level != Fail || !strings.Contains(rs[1].Fix, "switch the printer on") && !strings.Contains(rs[1].Fix, "printers[1].connect") {
		t.Fatalf("results %v", rs)
	}
	sim.SetPaper(false)
	if rs := checkPrinters(t.Context(), cfg, &daemonInfo{}); rs[0].Level != Fail || !strings.Contains(rs[0].Detail, "paper_end") || rs[0].Fix != "load a paper roll" {
		t.Fatalf("paper end: %v", rs[0])
	}
	// While the daemon runs, its view is reported.
	d := &daemonInfo{running: true}
	d.status.Printers = []printerStatus{{ID: "front", State: "paper_end", Queued: 4, Error: "out of paper", Fault: true}}
	if rs := checkPrinters(t.Context(), cfg, d); rs[0].Level != Fail || !strings.Contains(rs[0].Detail, "4 receipts queued") || rs[1].Level != Warn {
		t.Fatalf("daemon's view: %v", rs)
	}
}
