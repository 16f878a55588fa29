package scaleproto

import (
	"bytes"
	"fmt"
	"strings"
)

// MTSICSProbeRequest asks for the serial number; only a SICS device answers
// `I4 A "<serial>"`. The leading CR LF ends any junk already in the
// scale's line buffer.
var MTSICSProbeRequest = []byte("\r\nI4\r\n")

// sicsTokens splits a SICS line on blanks, keeping a "quoted string" whole.
func sicsTokens(line string) ([]string, error) {
	var out []string
	for {
		line = strings.TrimLeft(line, " \t")
		if line == "" {
			return out, nil
		}
		if line[0] == '"' {
			end := strings.IndexByte(line[1:], '"')
			if end < 0 {
				return nil, fmt.Errorf("%w: unterminated quote", ErrGarbage)
			}
			out = append(out, line[:end+2])
			line = line[end+2:]
			continue
		}
		end := strings.IndexAny(line, " \t")
		if end < 0 {
			end = len(line)
		}
		out = append(out, line[:end])
		line = line[end:]
	}
}

func parseSICS(msg []byte) (Msg, error) {
	line := string(bytes.TrimRight(msg, "\r\n"))
	for i := 0; i < len(line); i++ {
		if line[i] < 0x20 || line[i] > 0x7e {
			return Msg{}, fmt.Errorf("%w: control byte in SICS line", ErrGarbage)
		}
	}
	tok, err := sicsTokens(line)
	if err != nil {
		return Msg{}, err
	}
	if len(tok) == 0 {
		return Msg{}, fmt.Errorf("%w: empty line", ErrGarbage)
	}
	bad := func() (Msg, error) { return Msg{}, fmt.Errorf("%w: SICS line %q", ErrGarbage, line) }
	switch tok[0] {
	case "ES", "ET", "EL":
		if len(tok) != 1 {
			return bad()
		}
		return Msg{Kind: KindError, Text: tok[0]}, nil
	case "S", "SI":
		if len(tok) < 2 {
			return bad()
		}
		switch tok[1] {
		case "S", "D":
			if len(tok) != 4 {
				return bad()
			}
			g, neg, err := parseGrams(tok[2], tok[3])
			if err != nil {
				return Msg{}, err
			}
			return Msg{Kind: KindWeight, Reading: Reading{Grams: g, Negative: neg, Stable: tok[1] == "S"}}, nil
		case "+", "-":
			if len(tok) != 2 {
				return bad()
			}
			return Msg{Kind: KindWeight, Reading: Reading{NoValue: true, Overload: tok[1] == "+", Underload: tok[1] == "-"}}, nil
		case "I":
			if len(tok) != 2 {
				return bad()
			}
			return Msg{Kind: KindNak, Cmd: "S", Text: "busy"}, nil
		}
		return bad()
	case "Z", "T", "TAC", "@", "I4":
		if len(tok) < 2 {
			return bad()
		}
		cmd := tok[0]
		switch {
		case cmd == "I4" && tok[1] == "A" && len(tok) == 3 && len(tok[2]) >= 2 && tok[2][0] == '"':
			return Msg{Kind: KindIdent, Cmd: cmd, Text: tok[2][1 : len(tok[2])-1]}, nil
		case cmd == "T" && tok[1] == "S" && len(tok) == 4:
			g, neg, err := parseGrams(tok[2], tok[3])
			if err != nil {
				return Msg{}, err
			}
			return Msg{Kind: KindAck, Cmd: cmd, Reading: Reading{Grams: g, Negative: neg, Stable: true}}, nil
		case (cmd == "Z" || cmd == "TAC") && tok[1] == "A" && len(tok) == 2:
			return Msg{Kind: KindAck, Cmd: cmd}, nil
		case len(tok) == 2 && (tok[1] == "I" || tok[1] == "+" || tok[1] == "-" || tok[1] == "L"):
			why := map[string]string{"I": "not possible now", "+": "upper limit", "-": "lower limit", "L": "logical error"}[tok[1]]
			return Msg{Kind: KindNak, Cmd: cmd, Text: why}, nil
		}
		return bad()
	}
	return bad()
}

// EncodeSICS builds the answer to S/SI for r ("S S      1.234 kg").
func EncodeSICS(r Reading) []byte {
	switch {
	case r.Overload:
		return []byte("S +\r\n")
	case r.Underload:
		return []byte("S -\r\n")
	case r.NoValue:
		return []byte("S I\r\n")
	}
	st := "S"
	if !r.Stable {
		st = "D"
	}
	return []byte(fmt.Sprintf("S %s %10s kg\r\n", st, formatKg(r.Grams, 0)))
}
