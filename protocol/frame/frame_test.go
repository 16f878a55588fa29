package frame

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestLineMode(t *testing.T) {
	r := NewReader(strings.NewReader("{\"a\":1}\r\n\n{\"b\":2}\n"), 0)
	for _, want := range []string{`{"a":1}`, `{"b":2}`} {
		got, err := r.Next()
		if err != nil || string(got) != want {
			t.Fatalf("got %q %v want %q", got, err, want)
		}
	}
	if r.Mode() != ModeLine {
		t.Fatal("mode")
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("want EOF, got %v", err)
	}
}

func TestLengthMode(t *testing.T) {
	var b []byte
	b = Append(b, ModeLength, []byte(`{"a":1}`))
	b = Append(b, ModeLength, []byte(`{"b":2}`))
	r := NewReader(bytes.NewReader(b), 0)
	for _, want := range []string{`{"a":1}`, `{"b":2}`} {
		got, err := r.Next()
		if err != nil || string(got) != want {
			t.Fatalf("got %q %v", got, err)
		}
	}
	if r.Mode() != ModeLength {
		t.Fatal("mode")
	}
}

func TestErrors(t *testing.T) {
	cases := map[string]struct {
		in   []byte
		want error
	}{
		"zero length":     {[]byte{0, 0, 0, 0}, ErrZeroLength},
		"length too big":  {binary.BigEndian.AppendUint32(nil, MaxSize+1), ErrTooLarge},
		"line too long":   {append([]byte("{"), bytes.Repeat([]byte("x"), MaxSize+5)...), ErrTooLarge},
		"mode violation":  {[]byte("{}\nhello\n"), ErrModeViolation},
		"truncated frame": {[]byte{0, 0, 0, 9, '{'}, io.ErrUnexpectedEOF},
		"truncated line":  {[]byte("{\"a\""), io.ErrUnexpectedEOF},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			r := NewReader(bytes.NewReader(c.in), 0)
			var err error
			for err == nil {
				_, err = r.Next()
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v want %v", err, c.want)
			}
		})
	}
}

func TestExactlyMaxLineAccepted(t *testing.T) {
	line := append([]byte("{"), bytes.Repeat([]byte("x"), MaxSize-1)...)
	r := NewReader(bytes.NewReader(append(line, '\r', '\n')), 0)
	got, err := r.Next()
	if err != nil || len(got) != MaxSize {
		t.Fatalf("len %d err %v", len(got), err)
	}
}

// FuzzReader checks that any byte stream yields frames or an error, never a
// panic or a frame over the limit, and that re-framing a frame reads it back.
func FuzzReader(f *testing.F) {
	f.Add([]byte("{\"head\":{\"action\":\"login\"}}\n"))
	f.Add(Append(nil, ModeLength, []byte(`{"head":{"action":"health"}}`)))
	f.Add([]byte{0, 0, 0, 0})
	f.Add([]byte("{}\r\n\r\nx"))
	f.Fuzz(func(t *testing.T, in []byte) {
		r := NewReader(bytes.NewReader(in), 4096)
		for i := 0; i < 1000; i++ {
			p, err := r.Next()
			if err != nil {
				return
			}
			if len(p) > 4096 {
				t.Fatalf("frame of %d bytes over limit", len(p))
			}
			if r.Mode() == ModeLength && len(p) == 0 {
				t.Fatal("zero-length frame returned")
			}
			back, err := NewReader(bytes.NewReader(Append(nil, r.Mode(), p)), 4096).Next()
			if r.Mode() == ModeLength && (err != nil || !bytes.Equal(back, p)) {
				t.Fatalf("round trip: %q vs %q (%v)", back, p, err)
			}
		}
	})
}

func TestHasFrame(t *testing.T) {
	two := append(Append(nil, ModeLength, []byte(`{"a":1}`)), Append(nil, ModeLength, []byte(`{"b":2}`))...)
	r := NewReader(bytes.NewReader(append(two, 0, 0)), 0)
	r.Next()
	if !r.HasFrame() {
		t.Fatal("second frame is buffered")
	}
	r.Next()
	if r.HasFrame() {
		t.Fatal("two stray bytes are not a frame")
	}
	l := NewReader(strings.NewReader("{\"a\":1}\n{\"b\""), 0)
	l.Next()
	if l.HasFrame() {
		t.Fatal("half a line is not a frame")
	}
}
