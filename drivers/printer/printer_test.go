package printer_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/storebox/storebox/drivers/printer"
	"github.com/storebox/storebox/drivers/printer/printersim"
)

var lines = []string{"  超市 Corner Market", "Milk 1L", "2 x 3.50                    7.00", "农夫山泉天然矿泉水", "Crème brûlée", "bad \x1b@ bytes"}

func TestEncodeBytes(t *testing.T) {
	b, err := printer.Encode(printer.Doc{Lines: lines[:2], QR: "a1b2-00000042", Cut: true, Drawer: true}, "")
	if err != nil {
		t.Fatal(err)
	}
	gb, _ := simplifiedchinese.GB18030.NewEncoder().String(lines[0])
	want := [][]byte{
		{0x1b, '@', 0x1c, '&'},
		[]byte(gb + "\nMilk 1L\n"),
		{0x1b, 'a', 1, 0x1d, '(', 'k', 4, 0, '1', 'A', '2', 0},
		{0x1d, '(', 'k', 16, 0, '1', 'P', '0'}, []byte("a1b2-00000042"),
		{0x1d, '(', 'k', 3, 0, '1', 'Q', '0'},
		{0x1b, 'd', 3, 0x1d, 'V', 66, 0, 0x1b, 'p', 0, 25, 250},
	}
	at := 0
	for _, w := range want {
		i := bytes.Index(b[at:], w)
		if i < 0 {
			t.Fatalf("encoded bytes lack % x after offset %d:\n% x", w, at, b)
		}
		at += i + len(w)
	}
	if !bytes.HasSuffix(b, printer.CmdDrawer) {
		t.Errorf("drawer kick is not last: % x", b)
	}
	plain, _ := printer.Encode(printer.Doc{Lines: []string{"x"}}, "cp437")
	if !bytes.Equal(plain, []byte{0x1b, '@', 0x1c, '.', 0x1b, 't', 0, 'x', '\n'}) {
		t.Errorf("no cut, no drawer, cp437: % x", plain)
	}
	if _, err := printer.Encode(printer.Doc{}, "klingon"); err == nil {
		t.Error("unknown code page accepted")
	}
}

// Every code page's text comes back through the simulator's parser: what
// the page can hold as it was, the rest as '?', and no control byte of a
// line reaches the printer as a command.
func TestEncodeParseRoundTrip(t *testing.T) {
	for _, cp := range printer.Codepages() {
		enc, _ := printer.Encoding(cp)
		b, err := printer.Encode(printer.Doc{Lines: lines, Cut: true}, cp)
		if err != nil {
			t.Fatal(err)
		}
		p := printersim.NewParser(enc)
		evs := p.Feed(b)
		if len(evs) != 1 || evs[0].Receipt == nil || !evs[0].Receipt.Cut {
			t.Fatalf("%s: events %+v", cp, evs)
		}
		got := evs[0].Receipt.Lines
		if len(got) != len(lines) {
			t.Fatalf("%s: %d lines back, want %d: %q", cp, len(got), len(lines), got)
		}
		if got[1] != "Milk 1L" || got[5] != "bad  @ bytes" {
			t.Errorf("%s: ASCII or control bytes changed: %q", cp, got)
		}
		if cp == "gb18030" && (got[3] != lines[3] || got[4] != lines[4] || got[0] != lines[0]) {
			t.Errorf("gb18030 lost text: %q", got)
		}
		if cp == "cp1252" && got[4] != "Crème brûlée" {
			t.Errorf("cp1252 lost accents: %q", got[4])
		}
		if p.Unknown != 0 {
			t.Errorf("%s: %d unknown commands", cp, p.Unknown)
		}
	}
}

func TestParseStatus(t *testing.T) {
	cases := []struct {
		name string
		s    printer.Status
		want string
	}{
		{"ok", printer.Status{}, printer.StateOK},
		{"paper end", printer.Status{PaperEnd: true}, printer.StatePaperEnd},
		{"near end only", printer.Status{PaperNearEnd: true}, printer.StateOK},
		{"cover", printer.Status{CoverOpen: true}, printer.StateCoverOpen},
		{"error", printer.Status{Error: true}, printer.StateError},
	}
	for _, c := range cases {
		a, b, d := printer.StatusBytes(c.s)
		got, err := printer.ParseStatus(a, b, d)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got.State() != c.want || got.PaperNearEnd != c.s.PaperNearEnd {
			t.Errorf("%s: state %s (%+v), want %s", c.name, got.State(), got, c.want)
		}
	}
	// An Epson TM-T20 with paper: 0x16 (drawer pin high), 0x12, 0x12.
	if s, err := printer.ParseStatus(0x16, 0x12, 0x12); err != nil || !s.Ready() || !s.DrawerHigh {
		t.Errorf("TM-T20 idle: %+v %v", s, err)
	}
	if _, err := printer.ParseStatus(0xff, 0x12, 0x12); err == nil {
		t.Error("0xff accepted as a status byte")
	}
}

func simOn(t *testing.T) *printersim.Sim {
	t.Helper()
	sim := printersim.New(simplifiedchinese.GB18030)
	if err := sim.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { sim.Serve(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return sim
}

func TestTCPLinkWithSimulator(t *testing.T) {
	sim := simOn(t)
	l, err := printer.Open(t.Context(), "tcp://"+sim.Addr(), printer.Timeouts{Query: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if s, err := printer.ReadStatus(l); err != nil || s.State() != printer.StateOK {
		t.Fatalf("status %+v %v", s, err)
	}
	b, _ := printer.Encode(printer.Doc{Lines: lines[:4], QR: "OID-1", Cut: true, Drawer: true}, "gb18030")
	if _, err := l.Write(b); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if _, err := sim.WaitReceipts(ctx, 1); err != nil {
		t.Fatal(err)
	}
	// the drawer kick follows the cut: ask for status, which the printer
	// answers after it has read everything before it
	printer.ReadStatus(l)
	rs := sim.Receipts()
	if r := rs[0]; !r.Cut || !rs[0].Drawer || len(r.QR) != 1 || r.QR[0] != "OID-1" || strings.Join(r.Lines, "|") != strings.Join(lines[:4], "|") {
		t.Fatalf("printed %+v", rs)
	}

	sim.SetPaper(false)
	if s, err := printer.ReadStatus(l); err != nil || s.State() != printer.StatePaperEnd {
		t.Fatalf("out of paper: %+v %v", s, err)
	}
	sim.SetPaper(true)
	sim.SetSilent(true)
	start := time.Now()
	if _, err := printer.ReadStatus(l); err == nil || errors.Is(err, printer.ErrNoStatus) {
		t.Fatalf("a silent printer gave %v", err)
	}
	if time.Since(start) > 3*time.Second {
		t.Errorf("a silent printer took %s to time out (query timeout 500ms)", time.Since(start))
	}
}

func TestFileLinkIsOneWay(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lp0")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := printer.Open(t.Context(), path, printer.Timeouts{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := printer.ReadStatus(l); !errors.Is(err, printer.ErrNoStatus) {
		t.Fatalf("status from a file: %v", err)
	}
	l.Write([]byte("one\n"))
	l.Write([]byte("two\n"))
	l.Close()
	if b, _ := os.ReadFile(path); string(b) != "one\ntwo\n" {
		t.Fatalf("file holds %q", b)
	}
	if _, err := printer.Open(t.Context(), filepath.Join(t.TempDir(), "usb", "lp9"), printer.Timeouts{}); err == nil || !strings.Contains(err.Error(), "unplugged") {
		t.Fatalf("missing device: %v", err)
	}
	if _, err := printer.Open(t.Context(), "lp0", printer.Timeouts{}); err == nil {
		t.Fatal("relative path accepted")
	}
}

func FuzzParser(f *testing.F) {
	b, _ := printer.Encode(printer.Doc{Lines: lines, QR: "x", Cut: true, Drawer: true}, "gb18030")
	f.Add(b)
	f.Add([]byte{0x1d, '(', 'k', 0xff, 0xff, '1'})
	f.Add([]byte{0x10, 0x04})
	f.Fuzz(func(t *testing.T, in []byte) {
		p := printersim.NewParser(simplifiedchinese.GB18030)
		// any split of the stream parses the same as the whole
		whole := len(p.Feed(in))
		q := printersim.NewParser(simplifiedchinese.GB18030)
		n := 0
		for i := range in {
			n += len(q.Feed(in[i : i+1]))
		}
		if n != whole {
			t.Fatalf("byte-at-a-time gave %d events, whole %d", n, whole)
		}
		p.Close()
	})
}

func TestColumns(t *testing.T) {
	for _, c := range []struct {
		cp, s string
		want  int
	}{
		{"gb18030", "abc", 3}, {"gb18030", "中文", 4}, {"gb18030", "é", 2}, {"gb18030", "·", 2}, {"gb18030", "—", 2},
		{"gb18030", "e\u0301", 3},                             // the mark is its own double-byte glyph on paper
		{"big5", "中文", 4}, {"big5", "é", 2}, {"big5", "😀", 1}, // Big5 lacks the emoji: one '?'
		{"cp437", "é", 1}, {"cp437", "中", 1}, {"cp1252", "Crème brûlée", 12},
	} {
		m, err := printer.Columns(c.cp)
		if err != nil {
			t.Fatal(err)
		}
		if got := m(c.s); got != c.want {
			t.Errorf("%s: %q takes %d columns, want %d", c.cp, c.s, got, c.want)
		}
	}
}
