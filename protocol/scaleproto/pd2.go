package scaleproto

import "fmt"

// parsePD2 decodes the CAS PD-II answer to "W": STX, five digits of grams,
// CR; "?" in the first digit position means the scale has no weight now
// (motion or out of range).
func parsePD2(msg []byte) (Msg, error) {
	if len(msg) != 7 || msg[0] != STX || msg[6] != '\r' {
		return Msg{}, fmt.Errorf("%w: PD-II frame of %d bytes", ErrGarbage, len(msg))
	}
	d := msg[1:6]
	if d[0] == '?' {
		return Msg{Kind: KindWeight, Reading: Reading{NoValue: true}}, nil
	}
	var g int64
	for _, c := range d {
		if c < '0' || c > '9' {
			return Msg{}, fmt.Errorf("%w: PD-II weight %q", ErrGarbage, d)
		}
		g = g*10 + int64(c-'0')
	}
	return Msg{Kind: KindWeight, Reading: Reading{Grams: g, Stable: true}}, nil
}

// EncodePD2 builds the PD-II answer for r.
func EncodePD2(r Reading) []byte {
	if r.NoValue || !r.Stable || r.Overload || r.Underload || r.Grams < 0 || r.Grams > 99999 {
		return []byte("\x02?0000\r")
	}
	return []byte(fmt.Sprintf("\x02%05d\r", r.Grams))
}
