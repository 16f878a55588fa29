package scaleproto

import (
	"fmt"
	"strings"
)

// parseGrams turns a printed weight such as " 1.234", "-00013.5" or "+0.50"
// in unit into grams, rounding half away from zero below a gram. Spaces
// around and between the sign and the digits are accepted (scales pad
// fields with them); anything else is garbage.
func parseGrams(s, unit string) (grams int64, negative bool, err error) {
	t := strings.TrimSpace(s)
	if t != "" && (t[0] == '-' || t[0] == '+') {
		negative = t[0] == '-'
		t = strings.TrimLeft(t[1:], " ")
	}
	if t == "" {
		return 0, false, fmt.Errorf("%w: empty weight %q", ErrGarbage, s)
	}
	var mant int64
	digits, decimals, dot := 0, 0, false
	for i := 0; i < len(t); i++ {
		c := t[i]
		switch {
		case c >= '0' && c <= '9':
			digits++
			if digits > 15 {
				return 0, false, fmt.Errorf("%w: weight %q too long", ErrGarbage, s)
			}
			mant = mant*10 + int64(c-'0')
			if dot {
				decimals++
			}
		case (c == '.' || c == ',') && !dot:
			dot = true
		default:
			return 0, false, fmt.Errorf("%w: bad weight %q", ErrGarbage, s)
		}
	}
	if digits == 0 {
		return 0, false, fmt.Errorf("%w: bad weight %q", ErrGarbage, s)
	}
	// grams = mant * num / (den * 10^decimals)
	var num, den int64
	switch strings.ToLower(strings.TrimSpace(unit)) {
	case "kg":
		num, den = 1000, 1
	case "g", "":
		num, den = 1, 1
	case "mg":
		num, den = 1, 1000
	case "lb":
		num, den = 45359237, 100000
	case "oz":
		num, den = 45359237, 1600000
	default:
		return 0, false, fmt.Errorf("%w: unknown unit %q", ErrGarbage, unit)
	}
	for ; decimals > 0; decimals-- {
		den *= 10
	}
	g := (mant*num + den/2) / den
	if mant == 0 {
		negative = false
	}
	if negative {
		g = -g
	}
	return g, negative, nil
}

// formatKg prints grams as kilograms with three decimals, right-aligned to
// width, with a leading '-' for negative weights.
func formatKg(grams int64, width int) string {
	sign := ""
	if grams < 0 {
		sign, grams = "-", -grams
	}
	s := fmt.Sprintf("%s%d.%03d", sign, grams/1000, grams%1000)
	if len(s) < width {
		s = strings.Repeat(" ", width-len(s)) + s
	}
	return s
}
