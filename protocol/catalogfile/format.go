package catalogfile

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
)

// Format is a catalog file format.
type Format int

// Formats.
const (
	FormatUnknown Format = iota
	FormatCSV
	FormatJSONL
)

func (f Format) String() string {
	switch f {
	case FormatCSV:
		return "csv"
	case FormatJSONL:
		return "jsonl"
	}
	return "unknown"
}

// ParseFormat parses a format name as given on a command line: csv, jsonl
// (also ndjson, jsonlines, json).
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "csv":
		return FormatCSV, nil
	case "jsonl", "ndjson", "jsonlines", "json":
		return FormatJSONL, nil
	}
	return FormatUnknown, fmt.Errorf("catalog format %q: want csv or jsonl", s)
}

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// DetectFormat guesses a catalog file's format from its name (may be empty)
// and its first bytes (a few hundred are plenty). It returns FormatUnknown
// when it cannot tell.
func DetectFormat(name string, firstBytes []byte) Format {
	b := bytes.TrimPrefix(firstBytes, utf8BOM)
	b = bytes.TrimLeft(b, " \t\r\n")
	// A CSV header cannot start with '{' (it names fixed columns), so a brace
	// wins over a misleading extension.
	if len(b) > 0 && b[0] == '{' {
		return FormatJSONL
	}
	switch strings.ToLower(filepath.Ext(name)) {
	case ".csv":
		return FormatCSV
	case ".jsonl", ".ndjson", ".json":
		return FormatJSONL
	}
	line := b
	if i := bytes.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	}
	for _, f := range bytes.Split(line, []byte(",")) {
		f = bytes.Trim(f, " \t\r\"")
		if strings.EqualFold(string(f), "gid") {
			return FormatCSV
		}
	}
	return FormatUnknown
}

// RowError is a problem with one row of a catalog file.
type RowError struct {
	Format Format
	Line   int    // 1-based line where the row starts; 0 when not tied to a line
	Column string // CSV column or JSON field name; "" when about the whole row
	Index  int    // CSV: 1-based field index of Column; 0 when unknown
	Offset int    // JSON Lines: 1-based byte offset in the line; 0 when unknown
	Err    error
}

func (e *RowError) Error() string {
	var parts []string
	if e.Line > 0 {
		parts = append(parts, fmt.Sprintf("line %d", e.Line))
	}
	if e.Column != "" {
		word := "column"
		if e.Format == FormatJSONL {
			word = "field"
		}
		p := word + " " + e.Column
		if e.Index > 0 {
			p += fmt.Sprintf(" (%d)", e.Index)
		}
		parts = append(parts, p)
	}
	if e.Offset > 0 {
		parts = append(parts, fmt.Sprintf("byte %d", e.Offset))
	}
	parts = append(parts, e.Err.Error())
	return strings.Join(parts[:len(parts)-1], ", ") + sepIf(len(parts) > 1) + parts[len(parts)-1]
}

func sepIf(b bool) string {
	if b {
		return ": "
	}
	return ""
}

func (e *RowError) Unwrap() error { return e.Err }
