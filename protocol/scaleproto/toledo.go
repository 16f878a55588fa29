package scaleproto

import (
	"bytes"
	"fmt"
)

// Toledo 8217 status bits, sent as "\x02?" + status + "\r" instead of a
// weight. The top bit is parity on a 7E1 line and is ignored.
const (
	ToledoMotion       = 1 << 0
	ToledoOverCapacity = 1 << 1
	ToledoUnderZero    = 1 << 2
	ToledoOutsideZero  = 1 << 3
	ToledoCentreZero   = 1 << 4
	ToledoNet          = 1 << 5
	ToledoBadCommand   = 1 << 6
)

// Toledo 8217 probe: after "Ehello" a real scale answers "\x02E\r" and
// echoes "hello"; "F" ends the echo.
var (
	ToledoProbeRequest = []byte("Ehello")
	ToledoProbeReply   = []byte("\x02E\rhello")
	ToledoProbeEnd     = []byte("F")
)

func parseToledo(msg []byte) (Msg, error) {
	if len(msg) < 3 || msg[0] != STX || msg[len(msg)-1] != '\r' {
		return Msg{}, fmt.Errorf("%w: not an STX..CR frame", ErrGarbage)
	}
	body := msg[1 : len(msg)-1]
	if len(body) == 2 && body[0] == '?' {
		st := body[1] & 0x7f
		if st&ToledoBadCommand != 0 {
			return Msg{Kind: KindError, Text: "bad command"}, nil
		}
		r := Reading{
			Stable:    st&ToledoMotion == 0,
			Overload:  st&ToledoOverCapacity != 0,
			Underload: st&ToledoUnderZero != 0,
			Net:       st&ToledoNet != 0,
		}
		// Only "at the centre of zero" and nothing wrong is a weight: zero.
		r.NoValue = st&(ToledoMotion|ToledoOverCapacity|ToledoUnderZero|ToledoOutsideZero) != 0 || st&ToledoCentreZero == 0
		return Msg{Kind: KindWeight, Reading: r}, nil
	}
	if bytes.Equal(body, []byte("E")) {
		return Msg{Kind: KindAck, Cmd: "E"}, nil
	}
	w := body
	net := false
	if len(w) > 0 && w[len(w)-1] == 'N' {
		net, w = true, w[:len(w)-1]
	}
	if bytes.IndexByte(w, '.') < 0 {
		return Msg{}, fmt.Errorf("%w: toledo weight %q has no decimal point", ErrGarbage, w)
	}
	g, neg, err := parseGrams(string(w), "kg")
	if err != nil {
		return Msg{}, err
	}
	return Msg{Kind: KindWeight, Reading: Reading{Grams: g, Stable: true, Negative: neg, Net: net}}, nil
}

// EncodeToledo builds the 8217 answer to "W" for r, as a scale sends it.
func EncodeToledo(r Reading) []byte {
	var st byte
	if !r.Stable {
		st |= ToledoMotion
	}
	if r.Overload {
		st |= ToledoOverCapacity
	}
	if r.Underload {
		st |= ToledoUnderZero
	}
	if st != 0 || r.NoValue {
		if r.Net {
			st |= ToledoNet
		}
		return []byte{STX, '?', withEvenParity(st), '\r'}
	}
	b := []byte{STX}
	b = append(b, formatKg(r.Grams, 6)...)
	if r.Net {
		b = append(b, 'N')
	}
	return append(b, '\r')
}

// withEvenParity sets bit 7 so the byte has an even number of ones.
func withEvenParity(b byte) byte {
	b &= 0x7f
	ones := 0
	for x := b; x != 0; x >>= 1 {
		ones += int(x & 1)
	}
	if ones%2 == 1 {
		b |= 0x80
	}
	return b
}
