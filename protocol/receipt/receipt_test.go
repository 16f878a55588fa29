package receipt

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/rivo/uniseg"

	"github.com/storebox/storebox/protocol/ordermsg"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func sample() Receipt {
	paid := time.Date(2026, 12, 7, 3, 10, 5, 0, time.UTC)
	o := &ordermsg.Order{OID: "a1b2-00000042", OrderID: "T-01-20261207-0042", EquipID: "T-01", Status: ordermsg.StatusPaid,
		Method: ordermsg.MethodCash, PaidAt: &paid, AmountTotal: 123456,
		Lines: []ordermsg.Line{
			{GID: "g1", Name: "Milk 1L", Unit: "pcs", Qty: 2, Price: 350, Amount: 700},
			{GID: "g2", Name: "农夫山泉天然矿泉水550毫升装整箱二十四瓶", Unit: "pcs", Qty: 1, Price: 3990, Amount: 3990},
			{GID: "g3", Name: "Extra long organic free-range chicken breast fillets, family pack, skinless", Unit: "pcs", Qty: 3, Price: 1299, Amount: 3897},
			{GID: "g4", Name: "苹果 Fuji apples 红富士", Unit: "kg", WeightG: 1532, Price: 1280, Amount: 1961},
			{GID: "g5", Name: "Supercalifragilisticexpialidocious-chocolate-bar", Unit: "pcs", Qty: 9999, Price: 11, Amount: 109989},
			{GID: "g6", Name: "Crème brûlée (naïve café) \x1b@\x1dV", Unit: "pcs", Qty: 1, Price: 2919, Amount: 2919},
		}}
	return FromOrder(o, "store-7", "超市 Corner Market 第七分店")
}

func layout(w int) Layout {
	return Layout{Width: w, Decimals: 2,
		Header: []string{"12 Long Street, 北京市朝阳区建国路88号", "Tax id 91110000MA0012345X"},
		Footer: []string{"Thank you! 谢谢惠顾", "Returns within 14 days with this receipt"}}
}

func TestGolden(t *testing.T) {
	for _, w := range []int{32, 42, 48} {
		for _, copy := range []bool{false, true} {
			name := "w" + itoa(w)
			l := layout(w)
			if copy {
				name += "-copy"
				l.Copy = true
			}
			t.Run(name, func(t *testing.T) {
				lines := PrintList(sample(), l)
				checkLines(t, lines, w)
				got := strings.Join(lines, "\n") + "\n"
				path := filepath.Join("testdata", "golden", name+".txt")
				if *update {
					if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run go test -update once to create it)", err)
				}
				if got != string(want) {
					t.Errorf("receipt at %d columns differs from %s:\n%s", w, path, got)
				}
			})
		}
	}
}

func itoa(n int) string { return strings.TrimSpace(formatFixed(int64(n), 0)) }

// checkLines fails when a line is wider than w, holds a control character
// or broken UTF-8.
func checkLines(t *testing.T, lines []string, w int) {
	t.Helper()
	for i, ln := range lines {
		if !utf8.ValidString(ln) {
			t.Errorf("line %d is not valid UTF-8: %q", i, ln)
		}
		if got := uniseg.StringWidth(ln); got > w {
			t.Errorf("line %d is %d columns wide (max %d): %q", i, got, w, ln)
		}
		for _, r := range ln {
			if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
				t.Errorf("line %d holds control character %U: %q", i, r, ln)
			}
		}
	}
}

func TestWrap(t *testing.T) {
	cases := []struct {
		in    string
		width int
		want  []string
	}{
		{"", 10, nil},
		{"  \t ", 10, nil},
		{"hello world", 20, []string{"hello world"}},
		{"hello world", 8, []string{"hello", "world"}},
		{"hello world", 5, []string{"hello", "world"}},
		{"abcdefghij", 4, []string{"abcd", "efgh", "ij"}},
		{"中文名字很长", 5, []string{"中文", "名字", "很长"}}, // 2 columns each, 5 fits two
		{"中文名字很长", 6, []string{"中文名", "字很长"}},
		{"ab中文", 3, []string{"ab", "中", "文"}},
		{"e\u0301e\u0301e\u0301", 2, []string{"e\u0301e\u0301", "e\u0301"}}, // combining mark stays with its letter
		{"a\nb\x1bc", 10, []string{"a b c"}},
		{"one two three four", 9, []string{"one two", "three", "four"}},
	}
	for _, c := range cases {
		got := Wrap(c.in, c.width)
		if strings.Join(got, "|") != strings.Join(c.want, "|") || len(got) != len(c.want) {
			t.Errorf("Wrap(%q, %d) = %q, want %q", c.in, c.width, got, c.want)
		}
	}
}

func TestFormatFixed(t *testing.T) {
	for _, c := range []struct {
		v   int64
		dec int
		out string
	}{{0, 2, "0.00"}, {5, 2, "0.05"}, {123456, 2, "1234.56"}, {-5, 2, "-0.05"}, {1532, 3, "1.532"}, {42, 0, "42"}} {
		if got := formatFixed(c.v, c.dec); got != c.out {
			t.Errorf("formatFixed(%d, %d) = %q, want %q", c.v, c.dec, got, c.out)
		}
	}
}

func TestFromOrderKg(t *testing.T) {
	r := sample()
	if r.Lines[3].WeightG != 1532 || r.Lines[3].Qty != 0 || r.Lines[0].Qty != 2 || r.Lines[0].WeightG != 0 {
		t.Fatalf("qty/weight_g not mapped by unit: %+v", r.Lines)
	}
	if r.Lines[3].UnitPrice != 1280 || r.Store != "store-7" || r.OrderID != "T-01-20261207-0042" {
		t.Fatalf("fields not mapped: %+v", r)
	}
}

func TestNarrowWidthsStayInside(t *testing.T) {
	for w := MinWidth; w <= MaxWidth; w++ {
		checkLines(t, PrintList(sample(), layout(w)), w)
	}
	// out-of-range widths are clamped
	checkLines(t, PrintList(sample(), Layout{Width: 3}), MinWidth)
	checkLines(t, PrintList(sample(), Layout{Width: 500}), MaxWidth)
}

func FuzzWrap(f *testing.F) {
	f.Add("农夫山泉天然矿泉水550毫升装", 32)
	f.Add("Extra long organic free-range chicken breast fillets", 16)
	f.Add("e\u0301\u0301\u0301 \x1b@ 👩‍👩‍👧 ｶﾀｶﾅ", 20)
	f.Fuzz(func(t *testing.T, s string, width int) {
		w := MinWidth + abs(width)%(MaxWidth-MinWidth+1)
		lines := Wrap(s, w)
		checkLines(t, lines, w)
		// nothing lost, nothing split: the lines' clusters are the cleaned
		// input's, in order, without the spaces at the breaks
		if got, want := strings.ReplaceAll(strings.Join(lines, ""), " ", ""), strings.ReplaceAll(Clean(s), " ", ""); got != want {
			t.Fatalf("Wrap(%q, %d) lost or changed text:\n got %q\nwant %q", s, w, got, want)
		}
		for i, ln := range lines {
			if ln == "" || ln != strings.TrimSpace(ln) {
				t.Fatalf("line %d is empty or has spaces at its ends: %q", i, ln)
			}
			if i > 0 && !clusterBoundary(Clean(s), lines[:i+1]) {
				t.Fatalf("line %d starts inside a grapheme cluster: %q", i, lines)
			}
		}
	})
}

// clusterBoundary reports whether the text of lines so far ends on a
// grapheme cluster boundary of full (spaces aside).
func clusterBoundary(full string, lines []string) bool {
	prefix := strings.ReplaceAll(strings.Join(lines[:len(lines)-1], ""), " ", "")
	g := uniseg.NewGraphemes(strings.ReplaceAll(full, " ", ""))
	n := 0
	for n < len(prefix) && g.Next() {
		n += len(g.Str())
	}
	return n == len(prefix)
}

func FuzzPrintList(f *testing.F) {
	f.Add("农夫山泉天然矿泉水550毫升装整箱二十四瓶", "超市", int64(3990), int64(2), 32)
	f.Add("Supercalifragilisticexpialidocious", "Corner \x1b Market", int64(-1), int64(9999), 42)
	f.Fuzz(func(t *testing.T, name, store string, price, qty int64, width int) {
		w := MinWidth + abs(width)%(MaxWidth-MinWidth+1)
		r := Receipt{StoreName: store, OID: name, OrderID: store, Method: name, AmountTotal: price * 7,
			Lines: []Line{{Name: name, Qty: qty, UnitPrice: price, Amount: price}, {Name: store, WeightG: qty, UnitPrice: price, Amount: qty}}}
		checkLines(t, PrintList(r, Layout{Width: w, Header: []string{name}, Footer: []string{store}, Decimals: 2}), w)
		double := Measure(func(c string) int { // a double-byte printer: every non-ASCII rune 2
			n := 0
			for _, r := range c {
				n += 1 + min(int(r)/0x80, 1)
			}
			return n
		})
		for i, ln := range PrintList(r, Layout{Width: w, Header: []string{store}, Decimals: 2, Measure: double}) {
			if got := double.String(ln); got > w {
				t.Fatalf("line %d takes %d columns under the printer's measure (max %d): %q", i, got, w, ln)
			}
		}
	})
}

func abs(n int) int {
	if n < 0 {
		if n == -n { // MinInt
			return 0
		}
		return -n
	}
	return n
}

// A printer in a double-byte code page prints é and · two columns wide:
// with its measure, every line still fits.
func TestMeasuredLayoutFits(t *testing.T) {
	wideNonASCII := Measure(func(c string) int {
		n := 0
		for _, r := range c {
			if r < 0x80 {
				n++
			} else {
				n += 2
			}
		}
		return n
	})
	for _, w := range []int{32, 42, 48} {
		l := layout(w)
		l.Measure = wideNonASCII
		for i, ln := range PrintList(sample(), l) {
			if got := wideNonASCII.String(ln); got > w {
				t.Errorf("width %d: line %d takes %d columns on the printer: %q", w, i, got, ln)
			}
		}
	}
	// the display's measure is the default
	if Measure(nil).String("中é") != 3 {
		t.Errorf("display width of 中é: %d", Measure(nil).String("中é"))
	}
}
