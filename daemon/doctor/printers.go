package doctor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/storebox/storebox/daemon/config"
	"github.com/storebox/storebox/drivers/printer"
)

// printerStatus is a printer as the running daemon reports it.
type printerStatus struct {
	ID     string `json:"id"`
	State  string `json:"state"`
	Queued int    `json:"queued"`
	Error  string `json:"error"`
	Fault  bool   `json:"fault"`
}

// checkPrinters connects to each [[printers]] entry and reads its status
// bytes; while the daemon runs, it reports the daemon's view instead (the
// daemon may hold a serial or USB printer open, and a network printer
// often takes one connection at a time).
func checkPrinters(ctx context.Context, cfg *config.Config, d *daemonInfo) []Result {
	var out []Result
	for i, p := range cfg.Printers {
		name := "printer " + p.ID
		if d.running {
			out = append(out, printerFromDaemon(name, p, d))
			continue
		}
		out = append(out, probePrinter(ctx, name, fmt.Sprintf("printers[%d].connect", i), p))
	}
	return out
}

func printerFromDaemon(name string, p config.Printer, d *daemonInfo) Result {
	for _, s := range d.status.Printers {
		if s.ID != p.ID {
			continue
		}
		detail := fmt.Sprintf("%s: %s (the running daemon's view), %d receipts queued", p.Connect, s.State, s.Queued)
		if s.Error != "" {
			detail += ": " + s.Error
		}
		switch {
		case s.Fault:
			return Result{Level: Fail, Check: name, Detail: detail, Fix: printerFix(s.State)}
		case s.State == printer.StateOK:
			return Result{Level: OK, Check: name, Detail: detail}
		}
		return Result{Level: Warn, Check: name, Detail: detail, Fix: printerFix(s.State)}
	}
	return Result{Level: Warn, Check: name, Detail: "the running daemon does not report this printer", Fix: "reload or restart the daemon after changing [[printers]]"}
}

func probePrinter(ctx context.Context, name, key string, p config.Printer) Result {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	l, err := printer.Open(ctx, p.Connect, printer.Timeouts{Dial: 3 * time.Second, Query: 2 * time.Second})
	if err != nil {
		fix := "check that the printer is on and cabled, and " + key
		if errors.Is(err, os.ErrPermission) {
			fix = dialoutFix + " (group lp for /dev/usb/lp*)"
		}
		return Result{Level: Fail, Check: name, Detail: err.Error(), Fix: fix}
	}
	defer l.Close()
	st, err := printer.ReadStatus(l)
	switch {
	case errors.Is(err, printer.ErrNoStatus):
		return Result{Level: Warn, Check: name, Detail: p.Connect + ": opened; the link carries no status back, so receipts go out blind",
			Fix: "print a test page (storebox print test " + p.ID + ") to see that it prints"}
	case errors.Is(err, os.ErrDeadlineExceeded):
		return Result{Level: Warn, Check: name, Detail: p.Connect + ": connected, but no answer to DLE EOT status queries",
			Fix: printerFix(printer.StateNoAnswer)}
	case err != nil:
		return Result{Level: Fail, Check: name, Detail: p.Connect + ": " + err.Error(), Fix: "check the cable and the printer's interface settings"}
	}
	if !st.Ready() {
		return Result{Level: Fail, Check: name, Detail: fmt.Sprintf("%s: %s", p.Connect, st.State()), Fix: printerFix(st.State())}
	}
	detail := p.Connect + ": ok, status bytes answered"
	if st.PaperNearEnd {
		return Result{Level: Warn, Check: name, Detail: detail + "; paper near its end", Fix: "have a new roll at hand"}
	}
	return Result{Level: OK, Check: name, Detail: detail}
}

func printerFix(state string) string {
	switch state {
	case printer.StatePaperEnd:
		return "load a paper roll"
	case printer.StateCoverOpen:
		return "close the printer's cover"
	case printer.StateUnreachable:
		return "switch the printer on, check its cable or network address"
	case printer.StateNoAnswer:
		return "a printer that does not answer status prints blind; enable its status (ASB/DLE EOT) if it has the setting"
	case printer.StateOffline, printer.StateError:
		return "look at the printer's lights; switch it off and on"
	}
	return ""
}
