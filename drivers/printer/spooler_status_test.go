package printer

import (
	"strings"
	"testing"
)

// The Windows spooler's PRINTER_INFO_2 Status and Attributes as the states
// an ESC/POS printer reports (the mapping runs on every platform; the call
// that reads them is tested under Wine).
func TestSpoolerStatus(t *testing.T) {
	cases := []struct {
		status, attributes, jobs uint32
		state                    string
		detail                   string
	}{
		{0, 0, 0, StateOK, ""},
		{0, 0, 3, StateOK, ""}, // a queue that prints is no fault
		{psPaperOut, 0, 2, StatePaperEnd, "the Windows spooler reports the printer out of paper; 2 jobs wait in its queue"},
		{psDoorOpen, 0, 0, StateCoverOpen, "cover open"},
		{psPaperJam, 0, 0, StateError, "paper jam"},
		{psUserIntervention | psError, 0, 0, StateError, "needs attention, error"},
		{psOffline, 0, 0, StateOffline, "offline"},
		{psPaused, 0, 0, StateOffline, "paused"},
		{0, paWorkOffline, 0, StateOffline, "set to use the printer offline"},
		{0, 0x40, 0, StateOK, ""}, // other attributes (local) say nothing about the state
		{psPaperOut | psOffline, 0, 0, StatePaperEnd, "out of paper, offline"},
		{0x100 | 0x400, 0, 1, StateOK, ""}, // io active, printing
	}
	for _, c := range cases {
		s := spoolerStatus(c.status, c.attributes, c.jobs)
		if s.State() != c.state || !strings.Contains(s.Detail, c.detail) || (c.detail == "") != (s.Detail == "") {
			t.Errorf("status %#x attributes %#x jobs %d: %s %q, want %s with %q", c.status, c.attributes, c.jobs, s.State(), s.Detail, c.state, c.detail)
		}
	}
}
