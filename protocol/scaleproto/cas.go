package scaleproto

import (
	"bytes"
	"fmt"
)

var casHeads = [][]byte{[]byte("ST,"), []byte("US,"), []byte("OL,")}

func splitCAS(buf []byte) (int, []byte, error) {
	return splitDelimited(buf, casHeads, []byte("\r\n"), 22)
}

// parseCAS decodes the CAS continuous frame, 22 bytes
// "ST,GS,01,000013.5<lamp>kg\r\n" or 18 bytes "ST,GS,000013.5kg\r\n".
func parseCAS(msg []byte) (Msg, error) {
	var state, kind, weight, unit []byte
	switch {
	case len(msg) == 22 && msg[2] == ',' && msg[5] == ',' && msg[8] == ',':
		state, kind, weight, unit = msg[0:2], msg[3:5], msg[9:17], msg[18:20]
	case len(msg) == 18 && msg[2] == ',' && msg[5] == ',':
		state, kind, weight, unit = msg[0:2], msg[3:5], msg[6:14], msg[14:16]
	default:
		return Msg{}, fmt.Errorf("%w: CAS frame of %d bytes", ErrGarbage, len(msg))
	}
	if !bytes.HasSuffix(msg, []byte("\r\n")) {
		return Msg{}, fmt.Errorf("%w: CAS frame without CR LF", ErrGarbage)
	}
	var r Reading
	switch string(kind) {
	case "GS":
	case "NT":
		r.Net = true
	default:
		return Msg{}, fmt.Errorf("%w: CAS weight type %q", ErrGarbage, kind)
	}
	switch string(state) {
	case "ST":
		r.Stable = true
	case "US":
	case "OL":
		r.Overload, r.NoValue = true, true
		return Msg{Kind: KindWeight, Reading: r}, nil
	default:
		return Msg{}, fmt.Errorf("%w: CAS state %q", ErrGarbage, state)
	}
	g, neg, err := parseGrams(string(weight), string(unit))
	if err != nil {
		return Msg{}, err
	}
	r.Grams, r.Negative = g, neg
	return Msg{Kind: KindWeight, Reading: r}, nil
}

// casWeight prints grams in the 8-character CAS field ("000013.5" style with
// three decimals: "0001.234", "-001.234").
func casWeight(grams int64) string {
	sign := ""
	if grams < 0 {
		sign, grams = "-", -grams
	}
	s := fmt.Sprintf("%d.%03d", grams/1000, grams%1000)
	for len(sign)+len(s) < 8 {
		s = "0" + s
	}
	return sign + s
}

// EncodeCAS builds a continuous frame for r: 22 bytes with id "01" and a
// lamp byte, or the 18-byte variant when short.
func EncodeCAS(r Reading, short bool) []byte {
	state := "ST"
	if !r.Stable {
		state = "US"
	}
	w := casWeight(r.Grams)
	if r.Overload {
		state, w = "OL", "--OL--  "
	}
	kind := "GS"
	if r.Net {
		kind = "NT"
	}
	if short {
		return []byte(state + "," + kind + "," + w + "kg\r\n")
	}
	lamp := byte(0x20)
	if r.Stable {
		lamp |= 0x01
	}
	if r.Net {
		lamp |= 0x04
	}
	return []byte(state + "," + kind + ",01," + w + string(lamp) + "kg\r\n")
}
