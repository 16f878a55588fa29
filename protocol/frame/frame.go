// Package frame reads and writes the device protocol's two framings
// (PROTOCOL.md §2.1): line mode (one JSON object per '\n'-terminated line, chosen when
// the first byte is '{') and length mode (4-byte big-endian length + JSON).
package frame

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Mode is a connection's framing.
type Mode uint8

const (
	// ModeUnknown means no byte has been read yet.
	ModeUnknown Mode = iota
	// ModeLine is newline-terminated JSON.
	ModeLine
	// ModeLength is a 4-byte big-endian length prefix.
	ModeLength
)

func (m Mode) String() string {
	switch m {
	case ModeLine:
		return "line"
	case ModeLength:
		return "length"
	}
	return "unknown"
}

// MaxSize is the largest frame PROTOCOL.md §2.1 allows.
const MaxSize = 1 << 20

// Errors that close the connection.
var (
	ErrTooLarge      = errors.New("frame larger than 1 MiB")
	ErrZeroLength    = errors.New("zero-length frame")
	ErrModeViolation = errors.New("line-mode message does not start with '{'")
)

// Reader splits a byte stream into frames. It keeps only a small buffer
// between frames so idle sessions stay cheap.
type Reader struct {
	br   *bufio.Reader
	mode Mode
	max  int
	acc  []byte
}

// NewReader returns a Reader that rejects frames over max bytes (≤0: MaxSize).
func NewReader(r io.Reader, max int) *Reader {
	if max <= 0 {
		max = MaxSize
	}
	return &Reader{br: bufio.NewReaderSize(r, 2048), max: max}
}

// HasFrame reports whether a whole frame is already buffered, so Next will
// return without waiting for the connection.
func (r *Reader) HasFrame() bool {
	n := r.br.Buffered()
	if n == 0 {
		return false
	}
	buf, _ := r.br.Peek(n)
	switch r.mode {
	case ModeLine:
		return bytes.IndexByte(buf, '\n') >= 0
	case ModeLength:
		return len(buf) >= 4 && uint64(len(buf)-4) >= uint64(binary.BigEndian.Uint32(buf))
	}
	return false
}

// Mode reports the framing chosen by the first byte (ModeUnknown before it).
func (r *Reader) Mode() Mode { return r.mode }

// Next returns the next frame's payload. The slice is owned by the caller.
func (r *Reader) Next() ([]byte, error) {
	if r.mode == ModeUnknown {
		b, err := r.br.Peek(1)
		if err != nil {
			return nil, err
		}
		if b[0] == '{' {
			r.mode = ModeLine
		} else {
			r.mode = ModeLength
		}
	}
	if r.mode == ModeLine {
		return r.nextLine()
	}
	return r.nextLength()
}

func (r *Reader) nextLine() ([]byte, error) {
	for {
		line, err := r.readLine()
		if err != nil {
			return nil, err
		}
		if len(line) == 0 {
			continue // tolerate blank lines between messages
		}
		if line[0] != '{' {
			return nil, ErrModeViolation
		}
		return line, nil
	}
}

func (r *Reader) readLine() ([]byte, error) {
	r.acc = r.acc[:0]
	for {
		// Count bytes as they arrive, so a line that never ends is refused
		// as soon as it passes the limit rather than when it ends.
		if _, err := r.br.Peek(1); err != nil {
			if err == io.EOF && len(r.acc) > 0 {
				return nil, io.ErrUnexpectedEOF
			}
			return nil, err
		}
		buf, _ := r.br.Peek(r.br.Buffered())
		i := bytes.IndexByte(buf, '\n')
		if i < 0 {
			r.acc = append(r.acc, buf...)
			r.br.Discard(len(buf))
			if len(r.acc) > r.max+1 { // +1: a '\r' may precede the '\n'
				return nil, ErrTooLarge
			}
			continue
		}
		r.acc = append(r.acc, buf[:i]...)
		r.br.Discard(i + 1)
		line := r.acc
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
		if len(line) > r.max {
			return nil, ErrTooLarge
		}
		out := append([]byte(nil), line...)
		if cap(r.acc) > 64<<10 {
			r.acc = nil // do not pin a large buffer to an idle session
		}
		return out, nil
	}
}

func (r *Reader) nextLength() ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r.br, hdr[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n == 0 {
		return nil, ErrZeroLength
	}
	if uint64(n) > uint64(r.max) {
		return nil, fmt.Errorf("%w (%d bytes announced)", ErrTooLarge, n)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r.br, buf); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return buf, nil
}

// Append appends payload framed in mode to dst.
func Append(dst []byte, mode Mode, payload []byte) []byte {
	if mode == ModeLength {
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(payload)))
		return append(dst, payload...)
	}
	dst = append(dst, payload...)
	return append(dst, '\n')
}
