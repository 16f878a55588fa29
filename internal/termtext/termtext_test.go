package termtext

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSafe(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"T-01", "T-01"},
		{"农夫山泉 550ml", "农夫山泉 550ml"},
		{"\x1b[2J\x1b[H", `\x1b[2J\x1b[H`},
		{"T-\x1b]0;pwned\x07", `T-\x1b]0;pwned\x07`},
		{"a\tb\nc\rd", `a\x09b\x0ac\x0dd`},
		{"del\x7f", `del\x7f`},
		{"c1 \u009b31m", `c1 \u009b31m`},
		{"evil\u202etxt.exe", `evil\u202etxt.exe`},
		{"\u2066x\u2069 \u200f", `\u2066x\u2069 \u200f`},
		{"bad \xff\xfe utf8", `bad \xff\xfe utf8`},
	} {
		if got := Safe(c.in); got != c.want {
			t.Errorf("Safe(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	if got := Lines("line 1\n\tline 2 \x1b[31m"); got != "line 1\n\tline 2 \\x1b[31m" {
		t.Errorf("Lines: %q", got)
	}
}

// FuzzSafe: whatever goes in, nothing a terminal interprets comes out, and
// text that needs no escaping is returned unchanged.
func FuzzSafe(f *testing.F) {
	for _, s := range []string{"T-01", "\x1b[2J", "\u202e", "\xff", "a\tb", "\u009b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := Safe(s)
		if !utf8.ValidString(out) {
			t.Fatalf("Safe(%q) = %q is not UTF-8", s, out)
		}
		for _, r := range out {
			if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || isBidi(r) {
				t.Fatalf("Safe(%q) = %q keeps %U", s, out, r)
			}
		}
		clean := utf8.ValidString(s) && !strings.ContainsFunc(s, func(r rune) bool {
			return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || isBidi(r)
		})
		if clean != (out == s) {
			t.Fatalf("Safe(%q) = %q: clean input %v, unchanged %v", s, out, clean, out == s)
		}
	})
}
