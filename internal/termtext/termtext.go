// Package termtext makes text that came from the network safe to print on
// a technician's terminal. A device's equipId or name, a cloud's error or
// id, a discovery answer: any of them may hold escape sequences that clear
// the screen, fake table rows and colours, or set the window title. Safe
// shows every such character escaped (\x1b, \u009b, \u202e), so what the
// terminal displays is what was sent, and nothing is interpreted.
package termtext

import (
	"strings"
	"unicode/utf8"
)

// Safe returns s with every control character escaped: C0 (tab and
// newline included, so a value cannot fake a row or a column), DEL, C1,
// the Unicode bidirectional controls (which reorder what is shown after
// them), and bytes that are not UTF-8. Text without any comes back as is.
func Safe(s string) string { return escape(s, false) }

// Lines is Safe for text of several lines, such as a multi-line error:
// newlines and tabs are kept, everything else Safe escapes is escaped.
func Lines(s string) string { return escape(s, true) }

func escape(s string, keepLines bool) string {
	i := 0
	for i < len(s) {
		c := s[i]
		if c >= 0x20 && c < 0x7f {
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if !needsEscape(r, n, keepLines) {
			i += n
			continue
		}
		break
	}
	if i == len(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	b.WriteString(s[:i])
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		if needsEscape(r, n, keepLines) {
			writeEscape(&b, s[i:i+n], r)
		} else {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

func needsEscape(r rune, size int, keepLines bool) bool {
	switch {
	case r == utf8.RuneError && size <= 1:
		return true // not UTF-8
	case r == '\n' || r == '\t':
		return !keepLines
	case r < 0x20 || r == 0x7f:
		return true
	case r >= 0x80 && r < 0xa0:
		return true // C1: U+009B is CSI to many terminals
	}
	return isBidi(r)
}

// isBidi reports the bidirectional formatting characters (Unicode TR9):
// marks, embeddings, overrides and isolates.
func isBidi(r rune) bool {
	switch {
	case r == 0x061c, r == 0x200e, r == 0x200f:
		return true
	case r >= 0x202a && r <= 0x202e:
		return true
	case r >= 0x2066 && r <= 0x2069:
		return true
	}
	return false
}

const hexDigits = "0123456789abcdef"

func writeEscape(b *strings.Builder, raw string, r rune) {
	if r == utf8.RuneError && len(raw) <= 1 || r < 0x80 {
		for i := 0; i < len(raw); i++ {
			b.WriteString(`\x`)
			b.WriteByte(hexDigits[raw[i]>>4])
			b.WriteByte(hexDigits[raw[i]&0xf])
		}
		return
	}
	b.WriteString(`\u`)
	for shift := 12; shift >= 0; shift -= 4 {
		b.WriteByte(hexDigits[(r>>shift)&0xf])
	}
}
