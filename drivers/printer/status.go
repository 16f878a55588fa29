package printer

import "fmt"

// Status is what a printer's three status bytes say.
type Status struct {
	Offline      bool // DLE EOT 1 bit 3
	DrawerHigh   bool // DLE EOT 1 bit 2: drawer-kick connector pin 3 (open or closed by model)
	CoverOpen    bool // DLE EOT 2 bit 2
	PaperStopped bool // DLE EOT 2 bit 5: printing stopped for paper end
	Error        bool // DLE EOT 2 bit 6
	PaperNearEnd bool // DLE EOT 4 bits 2-3
	PaperEnd     bool // DLE EOT 4 bits 5-6
	// Detail says what the printer's state rests on where the status did
	// not come from DLE EOT (the Windows spooler's words); else empty.
	Detail string
}

// States of a printer as the daemon reports them.
const (
	StateOK          = "ok"
	StateNoStatus    = "ok_no_status" // the link cannot answer; bytes are sent blind
	StatePaperEnd    = "paper_end"
	StateCoverOpen   = "cover_open"
	StateError       = "error"
	StateOffline     = "offline"
	StateUnreachable = "unreachable"
	StateNoAnswer    = "no_answer" // connected, but status queries go unanswered
)

// State is the one word for the status: the worst condition wins.
func (s Status) State() string {
	switch {
	case s.PaperEnd || s.PaperStopped:
		return StatePaperEnd
	case s.CoverOpen:
		return StateCoverOpen
	case s.Error:
		return StateError
	case s.Offline:
		return StateOffline
	}
	return StateOK
}

// Ready reports whether a job may be sent.
func (s Status) Ready() bool { return s.State() == StateOK }

// fixed bits of every status byte: bits 1 and 4 are 1, bits 0 and 7 are 0.
func validStatus(b byte) bool { return b&0x93 == 0x12 }

// ParseStatus reads the answers to DLE EOT 1, 2 and 4.
func ParseStatus(printer, offline, paper byte) (Status, error) {
	for _, b := range []byte{printer, offline, paper} {
		if !validStatus(b) {
			return Status{}, fmt.Errorf("status byte %#02x is not a DLE EOT answer (bits 1 and 4 set, 0 and 7 clear)", b)
		}
	}
	return Status{
		Offline:      printer&0x08 != 0,
		DrawerHigh:   printer&0x04 != 0,
		CoverOpen:    offline&0x04 != 0,
		PaperStopped: offline&0x20 != 0,
		Error:        offline&0x40 != 0,
		PaperNearEnd: paper&0x0c != 0,
		PaperEnd:     paper&0x60 != 0,
	}, nil
}

// StatusQuery is DLE EOT n.
func StatusQuery(n byte) []byte { return []byte{dle, eot, n} }

// StatusBytes is what a printer in status s answers to DLE EOT 1, 2 and 4
// (for the simulator).
func StatusBytes(s Status) (printer, offline, paper byte) {
	printer, offline, paper = 0x12, 0x12, 0x12
	if s.Offline || s.CoverOpen || s.PaperEnd || s.Error {
		printer |= 0x08
	}
	if s.DrawerHigh {
		printer |= 0x04
	}
	if s.CoverOpen {
		offline |= 0x04
	}
	if s.PaperStopped || s.PaperEnd {
		offline |= 0x20
	}
	if s.Error {
		offline |= 0x40
	}
	if s.PaperNearEnd {
		paper |= 0x0c
	}
	if s.PaperEnd {
		paper |= 0x60
	}
	return
}
