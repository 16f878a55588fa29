package printer

import (
	"bytes"
	"fmt"
	"slices"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/korean"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/traditionalchinese"
)

// ESC/POS bytes.
const (
	esc = 0x1b
	gs  = 0x1d
	fs  = 0x1c
	dle = 0x10
	eot = 0x04
)

// Commands the encoder writes and the simulator recognises.
var (
	CmdInit   = []byte{esc, '@'}
	CmdCut    = []byte{gs, 'V', 66, 0}
	CmdDrawer = []byte{esc, 'p', 0, 25, 250}
)

// codepage is how a code page is selected and encoded.
type codepage struct {
	enc   encoding.Encoding
	table byte // ESC t n for single-byte pages
	multi bool // double-byte: FS & instead of ESC t
}

var codepages = map[string]codepage{
	"gb18030":     {enc: simplifiedchinese.GB18030, multi: true},
	"big5":        {enc: traditionalchinese.Big5, multi: true},
	"shift_jis":   {enc: japanese.ShiftJIS, multi: true},
	"euc-kr":      {enc: korean.EUCKR, multi: true},
	"cp437":       {enc: charmap.CodePage437, table: 0},
	"cp850":       {enc: charmap.CodePage850, table: 2},
	"cp858":       {enc: charmap.CodePage858, table: 19},
	"cp866":       {enc: charmap.CodePage866, table: 17},
	"cp1252":      {enc: charmap.Windows1252, table: 16},
	"iso-8859-15": {enc: charmap.ISO8859_15, table: 40},
}

// DefaultCodepage is what Chinese receipt printers expect out of the box.
const DefaultCodepage = "gb18030"

// Codepages lists the code pages Encode knows, sorted.
func Codepages() []string {
	var out []string
	for k := range codepages {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Encoding returns the text encoding of a code page ("" is the default).
func Encoding(name string) (encoding.Encoding, error) {
	cp, err := lookup(name)
	return cp.enc, err
}

func lookup(name string) (codepage, error) {
	if name == "" {
		name = DefaultCodepage
	}
	cp, ok := codepages[name]
	if !ok {
		return codepage{}, fmt.Errorf("code page %q is not one of %v", name, Codepages())
	}
	return cp, nil
}

// Doc is what one print job puts on paper.
type Doc struct {
	Lines  []string // text, already laid out for the printer's width
	QR     string   // printed as a QR code under the text when not empty
	Cut    bool     // feed and cut at the end
	Drawer bool     // kick the cash drawer
}

// Encode writes doc as ESC/POS for a printer set to codepage.
func Encode(doc Doc, codepageName string) ([]byte, error) {
	cp, err := lookup(codepageName)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.Write(CmdInit)
	if cp.multi {
		b.Write([]byte{fs, '&'})
	} else {
		b.Write([]byte{fs, '.', esc, 't', cp.table})
	}
	enc := cp.enc.NewEncoder()
	for _, ln := range doc.Lines {
		writeText(&b, enc, ln)
		b.WriteByte('\n')
	}
	if doc.QR != "" {
		writeQR(&b, doc.QR)
	}
	if doc.Cut {
		b.Write([]byte{esc, 'd', 3})
		b.Write(CmdCut)
	}
	if doc.Drawer {
		b.Write(CmdDrawer)
	}
	return b.Bytes(), nil
}

// writeText encodes s rune by rune: a control character becomes a space
// (a line's bytes must never reach the printer as a command) and a
// character the code page lacks becomes '?' (x/text's own replacement for
// single-byte pages is 0x1A, itself a control byte).
func writeText(b *bytes.Buffer, enc *encoding.Encoder, s string) {
	var one [utf8.UTFMax]byte
	for _, r := range s {
		if r < 0x80 {
			if unicode.IsControl(r) {
				r = ' '
			}
			b.WriteByte(byte(r))
			continue
		}
		if unicode.IsControl(r) {
			b.WriteByte(' ')
			continue
		}
		n := utf8.EncodeRune(one[:], r)
		out, err := enc.Bytes(one[:n])
		if err != nil || len(out) == 0 || out[0] < 0x20 {
			b.WriteByte('?')
			continue
		}
		b.Write(out)
	}
}

// writeQR writes the GS ( k sequence for a model 2 QR code of data
// (module size 6, error correction M), centred.
func writeQR(b *bytes.Buffer, data string) {
	if len(data) > 7089 {
		data = data[:7089]
	}
	b.Write([]byte{esc, 'a', 1})
	b.Write([]byte{gs, '(', 'k', 4, 0, '1', 'A', '2', 0}) // fn 165: model 2
	b.Write([]byte{gs, '(', 'k', 3, 0, '1', 'C', 6})      // fn 167: module size
	b.Write([]byte{gs, '(', 'k', 3, 0, '1', 'E', '1'})    // fn 169: error correction M
	n := len(data) + 3
	b.Write([]byte{gs, '(', 'k', byte(n), byte(n >> 8), '1', 'P', '0'}) // fn 180: store
	b.WriteString(data)
	b.Write([]byte{gs, '(', 'k', 3, 0, '1', 'Q', '0'}) // fn 181: print
	b.Write([]byte{esc, 'a', 0})
}

// Columns returns how many columns a string takes on a printer set to code
// page codepageName. The encoder writes rune by rune, and a receipt printer
// prints a double-byte character (Chinese font) two columns wide whatever
// a display would do: in GB18030 é, · and — are double-byte too. A
// character the page lacks prints as one '?'.
func Columns(codepageName string) (func(string) int, error) {
	cp, err := lookup(codepageName)
	if err != nil {
		return nil, err
	}
	return func(s string) int {
		n := 0
		var one [utf8.UTFMax]byte
		for _, r := range s {
			if r < 0x80 || !cp.multi {
				n++
				continue
			}
			k := utf8.EncodeRune(one[:], r)
			out, err := cp.enc.NewEncoder().Bytes(one[:k])
			if err != nil || len(out) < 2 || unicode.IsControl(r) {
				n++
				continue
			}
			n += 2
		}
		return n
	}, nil
}
