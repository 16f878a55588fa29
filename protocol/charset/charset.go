// Package charset converts device frames between UTF-8 and GBK (PROTOCOL.md §2.3
// "Charset"): cheap e-labels log in with "charset":"gbk".
package charset

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/simplifiedchinese"
)

// Charset names accepted at login.
const (
	UTF8 = "utf-8"
	GBK  = "gbk"
)

// Normalize maps login spellings ("GBK", "utf8", "") to a known charset.
func Normalize(s string) (string, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "utf-8", "utf8":
		return UTF8, nil
	case "gbk", "gb2312", "cp936":
		return GBK, nil
	}
	return "", fmt.Errorf("charset %q is not supported (use utf-8 or gbk)", s)
}

// DecodeGBK converts a GBK frame to UTF-8.
func DecodeGBK(b []byte) ([]byte, error) {
	out, err := simplifiedchinese.GBK.NewDecoder().Bytes(b)
	if err != nil {
		return nil, fmt.Errorf("decode gbk: %w", err)
	}
	return out, nil
}

// EncodeJSONToGBK converts a UTF-8 JSON document to GBK. A character GBK
// cannot represent is written as a JSON \u escape, which is lossless because
// non-ASCII characters only occur inside JSON strings.
func EncodeJSONToGBK(b []byte) []byte {
	out := make([]byte, 0, len(b))
	enc := simplifiedchinese.GBK.NewEncoder()
	var tmp [8]byte
	for i := 0; i < len(b); {
		c := b[i]
		if c < utf8.RuneSelf {
			out = append(out, c)
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		n, _, err := enc.Transform(tmp[:], b[i:i+size], true)
		enc.Reset()
		if err == nil && r != utf8.RuneError {
			out = append(out, tmp[:n]...)
		} else {
			out = appendEscape(out, r)
		}
		i += size
	}
	return out
}

func appendEscape(out []byte, r rune) []byte {
	const hex = "0123456789abcdef"
	esc := func(v rune) {
		out = append(out, '\\', 'u', hex[v>>12&0xf], hex[v>>8&0xf], hex[v>>4&0xf], hex[v&0xf])
	}
	if r > 0xffff {
		r -= 0x10000
		esc(0xd800 + (r>>10)&0x3ff)
		esc(0xdc00 + r&0x3ff)
		return out
	}
	esc(r)
	return out
}
