package scaleproto

import (
	"errors"
	"testing"
)

func TestParse(t *testing.T) {
	cases := []struct {
		p    Protocol
		in   string
		kind Kind
		want Reading // compared on weight and flags
		err  error
	}{
		{Toledo8217, "\x02 1.234\r", KindWeight, Reading{Grams: 1234, Stable: true}, nil},
		{Toledo8217, "\x0201.234N\r", KindWeight, Reading{Grams: 1234, Stable: true, Net: true}, nil},
		{Toledo8217, "\x02-0.150N\r", KindWeight, Reading{Grams: -150, Stable: true, Net: true, Negative: true}, nil},
		{Toledo8217, "\x02?\x01\r", KindWeight, Reading{NoValue: true}, nil},
		{Toledo8217, "\x02?\x81\r", KindWeight, Reading{NoValue: true}, nil}, // parity bit set
		{Toledo8217, "\x02?\x02\r", KindWeight, Reading{NoValue: true, Stable: true, Overload: true}, nil},
		{Toledo8217, "\x02?\x84\r", KindWeight, Reading{NoValue: true, Stable: true, Underload: true}, nil},
		{Toledo8217, "\x02?\x90\r", KindWeight, Reading{Stable: true}, nil}, // centre of zero
		{Toledo8217, "\x02?\x40\r", KindError, Reading{}, nil},
		{Toledo8217, "\x02E\r", KindAck, Reading{}, nil},
		{Toledo8217, "\x02 1234\r", 0, Reading{}, ErrGarbage},
		{Toledo8217, "\x02 1.2x4\r", 0, Reading{}, ErrGarbage},
		{MTSICS, "S S     12.345 g\r\n", KindWeight, Reading{Grams: 12, Stable: true}, nil},
		{MTSICS, "S S      1.2345 kg\r\n", KindWeight, Reading{Grams: 1235, Stable: true}, nil},
		{MTSICS, "S D     -0.500 kg\r\n", KindWeight, Reading{Grams: -500, Negative: true}, nil},
		{MTSICS, "S +\r\n", KindWeight, Reading{NoValue: true, Overload: true}, nil},
		{MTSICS, "S -\r\n", KindWeight, Reading{NoValue: true, Underload: true}, nil},
		{MTSICS, "S I\r\n", KindNak, Reading{}, nil},
		{MTSICS, "I4 A \"B021002593\"\r\n", KindIdent, Reading{}, nil},
		{MTSICS, "Z A\r\n", KindAck, Reading{}, nil},
		{MTSICS, "T S      0.100 kg\r\n", KindAck, Reading{Grams: 100, Stable: true}, nil},
		{MTSICS, "ES\r\n", KindError, Reading{}, nil},
		{MTSICS, "I4\r\n", 0, Reading{}, ErrGarbage}, // an echo of the probe
		{MTSICS, "S S 12 parsecs\r\n", 0, Reading{}, ErrGarbage},
		{CASContinuous, "ST,GS,01,000013.5\x21kg\r\n", KindWeight, Reading{Grams: 13500, Stable: true}, nil},
		{CASContinuous, "US,NT,01,-001.250\x20kg\r\n", KindWeight, Reading{Grams: -1250, Negative: true, Net: true}, nil},
		{CASContinuous, "ST,GS,000013.5kg\r\n", KindWeight, Reading{Grams: 13500, Stable: true}, nil},
		{CASContinuous, "OL,GS,--OL--  kg\r\n", KindWeight, Reading{NoValue: true, Overload: true}, nil},
		{CASContinuous, "ST,XX,000013.5kg\r\n", 0, Reading{}, ErrGarbage},
		{CASContinuous, "ST,GS,0000x3.5kg\r\n", 0, Reading{}, ErrGarbage},
		{CASENQ, "\x06", KindAck, Reading{}, nil},
		{CASENQ, "\x15", KindNak, Reading{}, nil},
		{CASPD2, "\x0201500\r", KindWeight, Reading{Grams: 1500, Stable: true}, nil},
		{CASPD2, "\x02?0000\r", KindWeight, Reading{NoValue: true}, nil},
		{CASPD2, "\x0201.50\r", 0, Reading{}, ErrGarbage},
		{AdamAZ, "  1.234kg\r\n", KindWeight, Reading{Grams: 1234, Stable: true}, nil},
		{AdamAZ, " -0.020kg\r\n", KindWeight, Reading{Grams: -20, Stable: true, Negative: true}, nil},
		{AdamAZ, "P\r\n", 0, Reading{}, ErrGarbage},
	}
	for _, tc := range cases {
		m, err := Parse(tc.p, []byte(tc.in))
		if tc.err != nil {
			if !errors.Is(err, tc.err) {
				t.Errorf("%s %q: err %v, want %v", tc.p, tc.in, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s %q: %v", tc.p, tc.in, err)
			continue
		}
		if m.Kind != tc.kind {
			t.Errorf("%s %q: kind %v, want %v", tc.p, tc.in, m.Kind, tc.kind)
		}
		got := m.Reading
		got.Raw = nil
		if tc.kind == KindWeight || tc.want.Grams != 0 {
			w := tc.want
			if got.Grams != w.Grams || got.Stable != w.Stable || got.Overload != w.Overload || got.Underload != w.Underload ||
				got.Negative != w.Negative || got.Net != w.Net || got.NoValue != w.NoValue {
				t.Errorf("%s %q: got %+v, want %+v", tc.p, tc.in, got, w)
			}
		}
	}
}

func TestENQChecksum(t *testing.T) {
	f := EncodeENQ(Reading{Grams: 1234, Stable: true})
	m, err := Parse(CASENQ, f)
	if err != nil || m.Reading.Grams != 1234 || !m.Reading.Stable {
		t.Fatalf("good frame: %+v %v", m, err)
	}
	f[len(f)-3] ^= 0x20
	if _, err := Parse(CASENQ, f); !errors.Is(err, ErrChecksum) {
		t.Fatalf("bad BCC: err %v, want ErrChecksum", err)
	}
	neg := EncodeENQ(Reading{Grams: -75})
	m, err = Parse(CASENQ, neg)
	if err != nil || m.Reading.Grams != -75 || !m.Reading.Negative || m.Reading.Stable {
		t.Fatalf("negative: %+v %v", m.Reading, err)
	}
}

// TestScannerStream feeds frames with garbage between them, split at every
// byte, and checks each frame comes out once with the errors counted.
func TestScannerStream(t *testing.T) {
	for _, p := range Protocols {
		rs := []Reading{{Grams: 1234, Stable: true}, {Grams: 5, Stable: true}, {Grams: 20000, Stable: true}}
		var stream []byte
		for i, r := range rs {
			stream = append(stream, encode(p, r)...)
			if i == 0 {
				stream = append(stream, "\xff\xfejunk\r\n"...)
			}
		}
		for chunk := 1; chunk <= len(stream); chunk *= 3 {
			s, err := NewScanner(p)
			if err != nil {
				t.Fatal(err)
			}
			var got []int64
			garbage := 0
			for off := 0; off < len(stream); off += chunk {
				end := min(off+chunk, len(stream))
				s.Write(stream[off:end])
				for {
					m, ok, err := s.Next()
					if !ok {
						break
					}
					if err != nil {
						garbage++
						continue
					}
					if m.Kind == KindWeight {
						got = append(got, m.Reading.Grams)
					}
				}
			}
			if len(got) != 3 || got[0] != 1234 || got[1] != 5 || got[2] != 20000 {
				t.Errorf("%s chunk %d: weights %v", p, chunk, got)
			}
			if garbage == 0 {
				t.Errorf("%s chunk %d: garbage not reported", p, chunk)
			}
		}
	}
}

func TestScannerPartial(t *testing.T) {
	s, _ := NewScanner(CASContinuous)
	s.Write([]byte("ST,GS,01,0001"))
	s.Write(EncodeCAS(Reading{Grams: 700, Stable: true}, false))
	var partial, n int
	for {
		m, ok, err := s.Next()
		if !ok {
			break
		}
		if errors.Is(err, ErrPartial) {
			partial++
		} else if err == nil && m.Reading.Grams == 700 {
			n++
		}
	}
	if partial != 1 || n != 1 {
		t.Fatalf("partial %d, frames %d", partial, n)
	}
}

func encode(p Protocol, r Reading) []byte {
	switch p {
	case Toledo8217:
		return EncodeToledo(r)
	case MTSICS:
		return EncodeSICS(r)
	case CASContinuous:
		return EncodeCAS(r, r.Grams%2 == 1)
	case CASENQ:
		return EncodeENQ(r)
	case CASPD2:
		return EncodePD2(r)
	case AdamAZ:
		return EncodeAdam(r)
	}
	panic(p)
}

func TestRoundTrip(t *testing.T) {
	for _, p := range Protocols {
		for _, g := range []int64{0, 1, 999, 1000, 1234, 99999} {
			for _, stable := range []bool{true, false} {
				r := Reading{Grams: g, Stable: stable}
				if (p == CASPD2 || p == AdamAZ) && !stable {
					continue // these only report settled weights
				}
				m, err := Parse(p, encode(p, r))
				if err != nil {
					t.Fatalf("%s %+v: %v", p, r, err)
				}
				if p == Toledo8217 && !stable {
					// 8217 sends a status byte, not a weight, while in motion.
					if !m.Reading.NoValue || m.Reading.Stable {
						t.Errorf("%s %+v: got %+v", p, r, m.Reading)
					}
					continue
				}
				if m.Reading.Grams != g || m.Reading.Stable != stable {
					t.Errorf("%s %+v: got %+v", p, r, m.Reading)
				}
			}
		}
	}
}

func TestRequest(t *testing.T) {
	for _, tc := range []struct {
		p    Protocol
		c    Command
		want string
	}{
		{Toledo8217, CmdWeigh, "W"}, {Toledo8217, CmdZero, "Z"}, {Toledo8217, CmdTare, "T"}, {Toledo8217, CmdClearTare, "C"},
		{MTSICS, CmdWeigh, "SI\r\n"}, {MTSICS, CmdIdent, "I4\r\n"}, {CASENQ, CmdWeigh, "\x05"}, {CASPD2, CmdWeigh, "W"},
		{AdamAZ, CmdWeigh, "P\r\n"},
	} {
		b, err := Request(tc.p, tc.c)
		if err != nil || string(b) != tc.want {
			t.Errorf("%s %s: %q %v", tc.p, tc.c, b, err)
		}
	}
	if _, err := Request(CASContinuous, CmdZero); !errors.Is(err, ErrUnsupported) {
		t.Errorf("cas zero: %v", err)
	}
	for _, s := range []string{"Toledo", "mt-sics", "CAS", "cas-enq", "pd2", "adam"} {
		if _, err := ParseProtocol(s); err != nil {
			t.Error(err)
		}
	}
	if _, err := ParseProtocol("hp-laserjet"); err == nil {
		t.Error("unknown protocol accepted")
	}
}
