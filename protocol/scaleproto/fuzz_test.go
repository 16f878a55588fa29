package scaleproto

import (
	"errors"
	"testing"
)

// fuzzProtocol checks that any input either decodes or fails with one of
// the countable errors, that the scanner never loses its footing, and that
// every accepted weight re-parses identically from its raw bytes.
func fuzzProtocol(f *testing.F, p Protocol, seeds ...string) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if m, err := Parse(p, in); err != nil {
			if !errors.Is(err, ErrGarbage) && !errors.Is(err, ErrChecksum) {
				t.Fatalf("Parse(%q): uncounted error %v", in, err)
			}
		} else if m.Kind == 0 {
			t.Fatalf("Parse(%q): no kind", in)
		}
		s, _ := NewScanner(p)
		s.Write(in)
		for i := 0; ; i++ {
			if i > len(in)+1 {
				t.Fatalf("scanner loops on %q", in)
			}
			m, ok, err := s.Next()
			if !ok {
				break
			}
			if err != nil {
				if !errors.Is(err, ErrGarbage) && !errors.Is(err, ErrChecksum) && !errors.Is(err, ErrPartial) {
					t.Fatalf("scanner(%q): uncounted error %v", in, err)
				}
				continue
			}
			again, err := Parse(p, m.Raw)
			if err != nil || again.Reading.Grams != m.Reading.Grams || again.Kind != m.Kind {
				t.Fatalf("reparse %q: %+v %v", m.Raw, again, err)
			}
		}
		if s.Pending() > maxPending {
			t.Fatalf("scanner holds %d bytes", s.Pending())
		}
	})
}

func FuzzToledo(f *testing.F) {
	fuzzProtocol(f, Toledo8217, "\x02 1.234\r", "\x02?\x81\r", "\x02E\rhello", "x\x02 0.5N\r\x02")
}

func FuzzMTSICS(f *testing.F) {
	fuzzProtocol(f, MTSICS, "S S     12.345 g\r\n", "I4 A \"B0210\"\r\n", "S +\r\nES\r\n", "T S 1 kg\n")
}

func FuzzCASContinuous(f *testing.F) {
	fuzzProtocol(f, CASContinuous, "ST,GS,01,000013.5!kg\r\n", "US,NT,-00013.5kg\r\n", "OL,GS,ST,GS,000013.5kg\r\n")
}

func FuzzCASENQ(f *testing.F) {
	fuzzProtocol(f, CASENQ, string(EncodeENQ(Reading{Grams: 1234, Stable: true})), "\x06\x15\x01\x02S 1.234kg\x00\x03\x04")
}

func FuzzCASPD2(f *testing.F) {
	fuzzProtocol(f, CASPD2, "\x0201500\r", "\x02?0000\r", "\x02\x0201500\r")
}

func FuzzAdam(f *testing.F) {
	fuzzProtocol(f, AdamAZ, "  1.234kg\r\n", "-  0.020 lb\r\n", "P\r\n")
}
