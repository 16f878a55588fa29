package servicectl

import (
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// readWord undoes what systemd does to one ExecStart word (quotes, C
// escapes, %% and, in arguments, $$) and reports whether it is one word
// with no specifier or variable left to expand.
func readWord(w string, isArg bool) (string, bool) {
	var raw strings.Builder
	if strings.HasPrefix(w, `"`) {
		if len(w) < 2 || !strings.HasSuffix(w, `"`) {
			return "", false
		}
		in := w[1 : len(w)-1]
		for i := 0; i < len(in); i++ {
			c := in[i]
			switch {
			case c == '"':
				return "", false // unescaped quote ends the word early
			case c < 0x20 || c == 0x7f:
				return "", false // raw control byte in the unit file
			case c != '\\':
				raw.WriteByte(c)
			case i+1 < len(in) && (in[i+1] == '\\' || in[i+1] == '"'):
				raw.WriteByte(in[i+1])
				i++
			case i+3 < len(in) && in[i+1] == 'x':
				v, err := strconv.ParseUint(in[i+2:i+4], 16, 8)
				if err != nil {
					return "", false
				}
				raw.WriteByte(byte(v))
				i += 3
			default:
				return "", false
			}
		}
	} else {
		if strings.ContainsFunc(w, needsQuote) {
			return "", false
		}
		raw.WriteString(w)
	}
	unescape := func(s string, c byte) (string, bool) {
		var b strings.Builder
		for i := 0; i < len(s); i++ {
			if s[i] != c {
				b.WriteByte(s[i])
				continue
			}
			if i+1 >= len(s) || s[i+1] != c {
				return "", false
			}
			b.WriteByte(c)
			i++
		}
		return b.String(), true
	}
	s, ok := unescape(raw.String(), '%')
	if ok && isArg {
		s, ok = unescape(s, '$')
	}
	return s, ok
}

func FuzzExecArg(f *testing.F) {
	for _, s := range []string{"/usr/bin/storebox", "/opt/store box/sb", "/opt/100%/$x", `/a"b\c`, "/a\nb\tc\x7f", "/x;y'z", ""} {
		f.Add(s, true)
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, s string, isArg bool) {
		if !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
			t.Skip()
		}
		w := execArg(s, isArg)
		got, ok := readWord(w, isArg)
		if !ok || got != s {
			t.Fatalf("execArg(%q, %v) = %s reads back as %q (ok=%v)", s, isArg, w, got, ok)
		}
	})
}
