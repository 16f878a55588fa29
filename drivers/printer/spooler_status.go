package printer

import (
	"fmt"
	"strings"
)

// PRINTER_INFO_2 Status bits and Attributes (winspool.h), for the Windows
// spooler's link; here, not in the _windows file, so that the mapping is
// tested on every platform.
const (
	psPaused           = 0x00000001
	psError            = 0x00000002
	psPendingDeletion  = 0x00000004
	psPaperJam         = 0x00000008
	psPaperOut         = 0x00000010
	psPaperProblem     = 0x00000040
	psOffline          = 0x00000080
	psOutputBinFull    = 0x00000800
	psNotAvailable     = 0x00001000
	psNoToner          = 0x00040000
	psUserIntervention = 0x00100000
	psOutOfMemory      = 0x00200000
	psDoorOpen         = 0x00400000
	psServerUnknown    = 0x00800000

	paWorkOffline = 0x00000400 // "Use Printer Offline", or a USB printer Windows saw leave
)

// spoolerStatus maps PRINTER_INFO_2's Status and Attributes onto the
// states an ESC/POS printer reports; Detail says what the spooler said.
func spoolerStatus(status, attributes, jobs uint32) Status {
	var s Status
	var said []string
	has := func(bits uint32, what string) bool {
		if status&bits == 0 {
			return false
		}
		said = append(said, what)
		return true
	}
	s.PaperEnd = has(psPaperOut, "out of paper")
	s.CoverOpen = has(psDoorOpen, "cover open")
	for _, e := range []struct {
		bit  uint32
		what string
	}{
		{psPaperJam, "paper jam"}, {psPaperProblem, "paper problem"}, {psOutputBinFull, "output bin full"},
		{psNoToner, "no ink or toner"}, {psUserIntervention, "needs attention"}, {psOutOfMemory, "out of memory"},
		{psError, "error"},
	} {
		s.Error = has(e.bit, e.what) || s.Error
	}
	for _, e := range []struct {
		bit  uint32
		what string
	}{
		{psOffline, "offline"}, {psNotAvailable, "not available"}, {psPaused, "paused"},
		{psPendingDeletion, "being deleted"}, {psServerUnknown, "print server unknown"},
	} {
		s.Offline = has(e.bit, e.what) || s.Offline
	}
	if attributes&paWorkOffline != 0 {
		s.Offline = true
		said = append(said, "set to use the printer offline (or unplugged)")
	}
	if len(said) > 0 {
		s.Detail = fmt.Sprintf("the Windows spooler reports the printer %s", strings.Join(said, ", "))
		if jobs > 0 {
			s.Detail += fmt.Sprintf("; %d jobs wait in its queue", jobs)
		}
	}
	return s
}
