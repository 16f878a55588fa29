package devmsg

import (
	"fmt"
	"unicode/utf8"
)

// Bounds on what a device may make the store remember (PROTOCOL §2.4). A
// device without credentials chooses these strings, and they end up in the
// store file, the status page, the fleet's health report and the
// technician's terminal, so each has a length a real device never reaches.
const (
	MaxEquipID = 128 // head.equipId, and ids in approve/reject lists
	MaxName    = 128 // login body.name
	MaxMacID   = 64  // login body.mac_id ("A4:C1:38:00:00:01" is 17)
	MaxToken   = 256 // login body.token (compared, never stored)
)

// CheckEquipID reports why id cannot be a device's equipId: empty, longer
// than MaxEquipID bytes, not UTF-8, or holding a control character (C0, DEL,
// C1). Ids are typed back by technicians (`storebox devices approve ID`)
// and printed in tables; a control character has no place in one.
func CheckEquipID(id string) error {
	if id == "" {
		return fmt.Errorf("is empty")
	}
	if len(id) > MaxEquipID {
		return fmt.Errorf("is %d bytes; at most %d", len(id), MaxEquipID)
	}
	return checkPrintable(id)
}

// CheckField reports why a device-supplied text field of at most max bytes
// cannot be stored: too long, or (when printable is set) not UTF-8 or
// holding a control character.
func CheckField(v string, max int, printable bool) error {
	if len(v) > max {
		return fmt.Errorf("is %d bytes; at most %d", len(v), max)
	}
	if printable {
		return checkPrintable(v)
	}
	return nil
}

func checkPrintable(s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("is not valid UTF-8")
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return fmt.Errorf("holds the control character %U", r)
		}
	}
	return nil
}
