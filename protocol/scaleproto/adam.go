package scaleproto

import (
	"bytes"
	"fmt"
	"strings"
)

// parseAdam decodes an AZExtra print line ("  1.234kg"). The scale prints
// only settled weights, and nothing when the weight has not changed.
func parseAdam(msg []byte) (Msg, error) {
	line := string(bytes.TrimRight(msg, "\r\n"))
	t := strings.TrimSpace(line)
	i := strings.LastIndexAny(t, "0123456789")
	if i < 0 {
		return Msg{}, fmt.Errorf("%w: Adam line %q", ErrGarbage, line)
	}
	num, unit := t[:i+1], strings.TrimSpace(t[i+1:])
	if unit == "" {
		return Msg{}, fmt.Errorf("%w: Adam line %q has no unit", ErrGarbage, line)
	}
	g, neg, err := parseGrams(num, unit)
	if err != nil {
		return Msg{}, err
	}
	return Msg{Kind: KindWeight, Reading: Reading{Grams: g, Negative: neg, Stable: true}}, nil
}

// EncodeAdam builds an AZExtra print line for r.
func EncodeAdam(r Reading) []byte {
	return []byte(formatKg(r.Grams, 8) + "kg\r\n")
}
