package scaleproto

import (
	"bytes"
	"fmt"
)

var enqStart = [][]byte{{SOH, STX}}

func splitENQ(buf []byte) (int, []byte, error) {
	switch buf[0] {
	case ACK, NAK:
		return 1, buf[:1], nil
	case SOH:
	default:
		// Garbage up to the next byte that can begin a message.
		i := bytes.IndexAny(buf, string([]byte{ACK, NAK, SOH}))
		if i < 0 {
			i = len(buf)
		}
		if i == 0 {
			i = 1
		}
		return i, nil, ErrGarbage
	}
	if len(buf) < 2 {
		return 0, nil, nil
	}
	if buf[1] != STX {
		return 1, nil, ErrGarbage
	}
	// The BCC may itself be ETX; the frame ends at the first ETX EOT after
	// the minimum frame length.
	const minLen = 2 + 1 + 1 + 1 + 2 + 1 + 2
	if len(buf) < minLen {
		if i := bytes.Index(buf[2:], enqStart[0]); i >= 0 {
			return 2 + i, nil, ErrPartial
		}
		return 0, nil, nil
	}
	e := bytes.Index(buf[minLen-2:], []byte{ETX, EOT})
	next := bytes.Index(buf[2:], enqStart[0])
	if next >= 0 && (e < 0 || 2+next < minLen-2+e) {
		return 2 + next, nil, ErrPartial
	}
	if e < 0 {
		if len(buf) > 32 {
			return 2, nil, ErrPartial
		}
		return 0, nil, nil
	}
	n := minLen + e
	return n, buf[:n], nil
}

// ENQBCC is the XOR of b, the check byte of a CAS ENQ/DC1 frame computed
// over the bytes from the state byte up to before the BCC.
func ENQBCC(b []byte) byte {
	var x byte
	for _, c := range b {
		x ^= c
	}
	return x
}

// parseENQ decodes ACK, NAK or
// SOH STX <S/U/F> <sign> <weight> <unit(2)> BCC ETX EOT.
func parseENQ(msg []byte) (Msg, error) {
	if len(msg) == 1 {
		switch msg[0] {
		case ACK:
			return Msg{Kind: KindAck, Cmd: "ENQ"}, nil
		case NAK:
			return Msg{Kind: KindNak, Cmd: "ENQ", Text: "NAK"}, nil
		}
	}
	n := len(msg)
	if n < 11 || msg[0] != SOH || msg[1] != STX || msg[n-2] != ETX || msg[n-1] != EOT {
		return Msg{}, fmt.Errorf("%w: not a SOH STX .. ETX EOT frame", ErrGarbage)
	}
	if got, want := msg[n-3], ENQBCC(msg[2:n-3]); got != want {
		return Msg{}, fmt.Errorf("%w: BCC %#02x, computed %#02x", ErrChecksum, got, want)
	}
	var r Reading
	switch msg[2] {
	case 'S':
		r.Stable = true
	case 'U':
	case 'F':
		r.Overload, r.NoValue = true, true
		return Msg{Kind: KindWeight, Reading: r}, nil
	default:
		return Msg{}, fmt.Errorf("%w: state byte %q", ErrGarbage, msg[2])
	}
	sign := msg[3]
	if sign != '-' && sign != '+' && sign != ' ' && sign != '0' {
		return Msg{}, fmt.Errorf("%w: sign byte %q", ErrGarbage, sign)
	}
	w := string(msg[4 : n-5])
	if sign == '-' {
		w = "-" + w
	} else if sign == '0' {
		w = "0" + w
	}
	g, neg, err := parseGrams(w, string(msg[n-5:n-3]))
	if err != nil {
		return Msg{}, err
	}
	r.Grams, r.Negative = g, neg
	return Msg{Kind: KindWeight, Reading: r}, nil
}

// EncodeENQ builds the frame a CAS scale sends after DC1.
func EncodeENQ(r Reading) []byte {
	state := byte('S')
	if !r.Stable {
		state = 'U'
	}
	g := r.Grams
	sign := byte(' ')
	if g < 0 {
		sign, g = '-', -g
	}
	w := fmt.Sprintf("%d.%03d", g/1000, g%1000)
	for len(w) < 6 {
		w = " " + w
	}
	if r.Overload {
		state, sign, w = 'F', ' ', "      "
	}
	body := append([]byte{state, sign}, w...)
	body = append(body, "kg"...)
	out := append([]byte{SOH, STX}, body...)
	return append(out, ENQBCC(body), ETX, EOT)
}
