package receipt

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Width limits: a 58 mm printer has 32 columns (Font A), an 80 mm one 42
// or 48; below MinWidth a price line no longer fits beside a label.
const (
	DefaultWidth = 32
	MinWidth     = 16
	MaxWidth     = 80
)

// Layout says how a receipt is laid out on paper.
type Layout struct {
	Width  int      // columns; DefaultWidth when 0, clamped to [MinWidth, MaxWidth]
	Header []string // under the store name: address, tax id…
	Footer []string // at the end: thanks, returns policy…
	// Decimals is how many digits of an amount are below the unit (10^Decimals
	// minor units make one unit): 2 for cents, 0 for a currency without.
	// receipt.decimals in the configuration, default 2.
	Decimals int
	// Location is the time zone paid_at is shown in; UTC when nil.
	Location *time.Location
	// Copy marks a reprint.
	Copy bool
	// Measure is how many columns a grapheme cluster takes; nil counts a
	// display's way (East Asian wide 2, others 1). A printer in a
	// double-byte code page prints every double-byte character two
	// columns wide, é and · included, and measures with its own.
	Measure Measure
}

func (l Layout) width() int {
	switch {
	case l.Width == 0:
		return DefaultWidth
	case l.Width < MinWidth:
		return MinWidth
	case l.Width > MaxWidth:
		return MaxWidth
	}
	return l.Width
}

func (l Layout) decimals() int { return min(max(l.Decimals, 0), 6) }

// methodNames are the pay methods as a receipt names them.
var methodNames = map[string]string{
	"qr": "QR", "card": "Card", "atm": "ATM transfer", "credit": "Store credit",
	"cash": "Cash", "card_offline": "Card (terminal)",
}

// PrintList lays r out as text lines, none wider than the layout's width.
func PrintList(r Receipt, l Layout) []string {
	w := l.width()
	p := printer{width: w, m: l.Measure}
	if l.Copy {
		p.center("*** COPY ***")
	}
	name := r.StoreName
	if name == "" {
		name = r.Store
	}
	p.center(name)
	for _, h := range l.Header {
		p.center(h)
	}
	p.rule()
	p.pair("Order", r.OID)
	if r.OrderID != "" {
		p.pair("Ref", r.OrderID)
	}
	if !r.PaidAt.IsZero() {
		loc := l.Location
		if loc == nil {
			loc = time.UTC
		}
		p.pair("Paid", r.PaidAt.In(loc).Format("2006-01-02 15:04"))
	}
	p.rule()
	dec := l.decimals()
	for _, ln := range r.Lines {
		p.lines = append(p.lines, WrapMeasured(ln.Name, w, l.Measure)...)
		var detail string
		if ln.WeightG != 0 {
			detail = fmt.Sprintf("%s kg x %s/kg", formatFixed(ln.WeightG, 3), formatFixed(ln.UnitPrice, dec))
		} else {
			detail = fmt.Sprintf("%d x %s", ln.Qty, formatFixed(ln.UnitPrice, dec))
		}
		p.pair(detail, formatFixed(ln.Amount, dec))
	}
	p.rule()
	p.pair("TOTAL", formatFixed(r.AmountTotal, dec))
	m := methodNames[r.Method]
	if m == "" {
		m = r.Method
	}
	p.pair("Paid by", m)
	if len(l.Footer) > 0 {
		p.rule()
		for _, f := range l.Footer {
			p.center(f)
		}
	}
	return p.lines
}

// formatFixed writes v/10^dec with dec digits after the point.
func formatFixed(v int64, dec int) string {
	if dec == 0 {
		return strconv.FormatInt(v, 10)
	}
	neg := v < 0
	u := uint64(v)
	if neg {
		u = uint64(-v)
	}
	s := strconv.FormatUint(u, 10)
	if len(s) <= dec {
		s = strings.Repeat("0", dec-len(s)+1) + s
	}
	s = s[:len(s)-dec] + "." + s[len(s)-dec:]
	if neg {
		s = "-" + s
	}
	return s
}

// printer collects lines of at most width columns.
type printer struct {
	width int
	m     Measure
	lines []string
}

func (p *printer) rule() { p.lines = append(p.lines, strings.Repeat("-", p.width)) }

func (p *printer) center(s string) {
	for _, ln := range WrapMeasured(s, p.width, p.m) {
		pad := (p.width - p.m.String(ln)) / 2
		p.lines = append(p.lines, strings.Repeat(" ", pad)+ln)
	}
}

// pair writes label on the left and value flush right on one line when both
// fit with a space between, else the label's lines and then the value's
// lines flush right.
func (p *printer) pair(label, value string) {
	label, value = Clean(label), Clean(value)
	lw, vw := p.m.String(label), p.m.String(value)
	if lw+1+vw <= p.width {
		p.lines = append(p.lines, label+strings.Repeat(" ", p.width-lw-vw)+value)
		return
	}
	p.lines = append(p.lines, WrapMeasured(label, p.width, p.m)...)
	for _, ln := range WrapMeasured(value, p.width, p.m) {
		p.lines = append(p.lines, strings.Repeat(" ", p.width-p.m.String(ln))+ln)
	}
}
