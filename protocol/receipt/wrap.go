package receipt

import (
	"strings"
	"unicode"

	"github.com/rivo/uniseg"
)

// Clean makes s safe and flat for paper: control characters (which would
// reach a printer as commands) and line breaks become spaces, runs of
// spaces become one, and the ends are trimmed. Invalid UTF-8 becomes U+FFFD.
func Clean(s string) string {
	var b strings.Builder
	space := false
	for _, r := range s {
		if unicode.IsControl(r) || unicode.IsSpace(r) || r == '\u2028' || r == '\u2029' {
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
	}
	return b.String()
}

// Wrap cleans s and breaks it into lines of at most width columns. It
// breaks where UAX #14 allows (after a space, between CJK characters) and,
// for a word longer than a line, between grapheme clusters, so a character
// (with its combining marks) is never split. A cluster wider than the
// whole line (only possible below MinWidth) gets a line of its own.
// An empty s gives no lines.
func Wrap(s string, width int) []string { return WrapMeasured(s, width, nil) }

// Measure is the columns a grapheme cluster takes on the paper.
type Measure func(cluster string) int

// String is the columns s takes, cluster by cluster (nil m: a display's).
func (m Measure) String(s string) int {
	if m == nil {
		return uniseg.StringWidth(s)
	}
	n := 0
	g := uniseg.NewGraphemes(s)
	for g.Next() {
		n += m(g.Str())
	}
	return n
}

// WrapMeasured is Wrap with the columns of a cluster counted by m (nil:
// a display's).
func WrapMeasured(s string, width int, m Measure) []string {
	s = Clean(s)
	if s == "" {
		return nil
	}
	if width < 1 {
		width = 1
	}
	var (
		out   []string
		line  []cluster // the line being filled
		lineW int
		brk   = -1 // clusters in line up to the last break opportunity
	)
	flush := func(n int) {
		out = append(out, strings.TrimRight(join(line[:n]), " "))
		rest := line[n:]
		for len(rest) > 0 && rest[0].s == " " {
			rest = rest[1:]
		}
		line = append([]cluster(nil), rest...)
		lineW = 0
		for _, c := range line {
			lineW += c.w
		}
		brk = -1
	}
	g := uniseg.NewGraphemes(s)
	for g.Next() {
		c := cluster{s: g.Str(), w: g.Width()}
		if m != nil {
			c.w = m(c.s)
		}
		for lineW+c.w > width && len(line) > 0 && c.s != " " {
			if brk > 0 {
				flush(brk) // at the last break opportunity
			} else {
				flush(len(line)) // a word longer than the line
			}
		}
		if len(line) == 0 && c.s == " " {
			continue
		}
		line = append(line, c)
		lineW += c.w
		if lineW > width && c.s == " " {
			// a trailing space never counts against the line
			line, lineW = line[:len(line)-1], lineW-c.w
			flush(len(line))
			continue
		}
		if g.LineBreak() == uniseg.LineCanBreak {
			brk = len(line)
		}
	}
	if len(line) > 0 {
		out = append(out, strings.TrimRight(join(line), " "))
	}
	return out
}

type cluster struct {
	s string
	w int
}

func join(cs []cluster) string {
	var b strings.Builder
	for _, c := range cs {
		b.WriteString(c.s)
	}
	return b.String()
}
