package catalogfile

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/storebox/storebox/protocol/goods"
)

// jsonRow is a JSON Lines row as decoded. price and stock are kept raw so
// that "12.5", "1250" (a string) and 1e3 get a precise message instead of
// being converted.
type jsonRow struct {
	GID      string          `json:"gid"`
	Barcode  string          `json:"barcode"`
	Name     string          `json:"gname"`
	Price    json.RawMessage `json:"price"`
	Unit     string          `json:"unit"`
	Category string          `json:"category"`
	Stock    json.RawMessage `json:"stock"`
	MacIDs   []string        `json:"mac_ids"`
	RFIDs    []string        `json:"rfids"`
}

var jsonFields = "gid, barcode, gname, price, unit, category, stock, mac_ids, rfids"

func readJSONL(r io.Reader, defaultWarehouse string, fn func(Row) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), MaxRowBytes+2) // +2: the line end
	uniq := newUniques()
	line := 0
	for sc.Scan() {
		line++
		b := sc.Bytes()
		if line == 1 {
			b = bytes.TrimPrefix(b, utf8BOM)
		}
		if len(bytes.TrimSpace(b)) == 0 {
			continue
		}
		row, rerr := jsonlRow(b, defaultWarehouse)
		if rerr == nil {
			if ferr := uniq.checkUnique(&row.Goods, line); ferr != nil {
				rerr = &RowError{Column: ferr.field, Err: ferr.err}
			}
		}
		if rerr != nil {
			rerr.Format, rerr.Line = FormatJSONL, line
			return rerr
		}
		row.Line = line
		if err := callRow(fn, row); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return &RowError{Format: FormatJSONL, Line: line + 1, Err: errRowTooLong}
		}
		return fmt.Errorf("read catalog jsonl: %w", err)
	}
	return nil
}

// jsonlRow decodes one non-blank line. The RowError it returns lacks Line
// and Format.
func jsonlRow(b []byte, defaultWarehouse string) (Row, *RowError) {
	var row Row
	if !utf8.Valid(b) {
		off := 0
		for off < len(b) {
			r, size := utf8.DecodeRune(b[off:])
			if r == utf8.RuneError && size <= 1 {
				break
			}
			off += size
		}
		return row, &RowError{Offset: off + 1, Err: errors.New("invalid UTF-8 (save the file as UTF-8)")}
	}
	first := bytes.TrimLeft(b, " \t")
	if first[0] != '{' {
		return row, &RowError{Offset: len(b) - len(first) + 1, Err: errors.New("want one JSON object per line")}
	}
	var jr jsonRow
	// Unmarshal, not a Decoder with DisallowUnknownFields: a Decoder per
	// line costs three times as much. Unknown fields are found by walking
	// the (by then known valid) object's keys.
	if err := json.Unmarshal(b, &jr); err != nil {
		return row, jsonError(err)
	}
	if err := objectMembers(b, func(key []byte, keyOff int, _ []byte) *RowError {
		if !knownJSONField(key) {
			return &RowError{Column: string(key), Offset: keyOff + 1, Err: fmt.Errorf("unknown field %q; known fields are %s", key, jsonFields)}
		}
		return nil
	}); err != nil {
		return row, err
	}

	g := &row.Goods
	g.GID, g.Barcode, g.Name, g.Unit, g.Category = jr.GID, jr.Barcode, jr.Name, jr.Unit, jr.Category
	g.MacIDs, g.RFIDs = jr.MacIDs, jr.RFIDs
	var err error
	if g.Price, err = jsonPrice(jr.Price); err != nil {
		return row, &RowError{Column: columnPrice, Err: err}
	}
	if ferr := normalizeGoods(g); ferr != nil {
		return row, &RowError{Column: ferr.field, Err: ferr.err}
	}
	stock, err := jsonStock(jr.Stock, defaultWarehouse)
	if err != nil {
		return row, &RowError{Column: columnStock, Err: err}
	}
	row.Stock, row.HasStock = stock, stock != nil
	return row, nil
}

func jsonPrice(raw json.RawMessage) (int64, error) {
	s := string(bytes.TrimSpace(raw))
	switch {
	case s == "" || s == "null":
		return 0, errors.New("missing (an integer amount in minor units, e.g. 1250 for 12.50)")
	case s[0] == '"':
		return 0, fmt.Errorf("%s is a string; write the number without quotes", s)
	case s[0] != '-' && (s[0] < '0' || s[0] > '9'):
		return 0, fmt.Errorf("%s is not a number", s)
	}
	return parsePrice(s)
}

// jsonStock decodes {"WH": qty}; a bare number is for defaultWarehouse. It
// returns nil when the row says nothing about stock.
func jsonStock(raw json.RawMessage, defaultWarehouse string) (map[string]int64, error) {
	s := bytes.TrimSpace(raw)
	if len(s) == 0 || string(s) == "null" {
		return nil, nil
	}
	if s[0] != '{' {
		if s[0] != '-' && (s[0] < '0' || s[0] > '9') {
			return nil, fmt.Errorf("%s: want {\"WH\": qty} or a number", s)
		}
		if defaultWarehouse == "" {
			return nil, fmt.Errorf("%s: a bare quantity needs a selling warehouse; write {\"WH\": qty}", s)
		}
		n, err := parseQty(defaultWarehouse, string(s))
		if err != nil {
			return nil, err
		}
		return map[string]int64{defaultWarehouse: n}, nil
	}
	stock := make(map[string]int64)
	if rerr := objectMembers(s, func(key []byte, _ int, q []byte) *RowError {
		wh := string(key)
		if err := checkWarehouse(wh); err != nil {
			return &RowError{Err: err}
		}
		if _, dup := stock[wh]; dup {
			return &RowError{Err: fmt.Errorf("warehouse %s is listed twice", wh)}
		}
		if len(q) == 0 || (q[0] != '-' && (q[0] < '0' || q[0] > '9')) {
			return &RowError{Err: fmt.Errorf("warehouse %s: quantity %s is not a number", wh, q)}
		}
		n, err := parseQty(wh, string(q))
		if err != nil {
			return &RowError{Err: err}
		}
		stock[wh] = n
		return nil
	}); rerr != nil {
		return nil, rerr.Err
	}
	if len(stock) == 0 {
		return nil, nil
	}
	return stock, nil
}

func jsonError(err error) *RowError {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se) && strings.Contains(se.Error(), "after top-level value"):
		return &RowError{Offset: int(se.Offset), Err: errors.New("text after the JSON object (one object per line)")}
	case errors.As(err, &se):
		return &RowError{Offset: int(se.Offset), Err: fmt.Errorf("invalid JSON: %s", strings.TrimPrefix(se.Error(), "json: "))}
	case errors.As(err, &te):
		return &RowError{Column: te.Field, Offset: int(te.Offset),
			Err: fmt.Errorf("got a JSON %s, want %s", te.Value, jsonKind(te.Type))}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &RowError{Err: errors.New("invalid JSON: the object is not closed")}
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		name = strings.Trim(name, `"`)
		return &RowError{Column: name, Err: fmt.Errorf("unknown field %q; known fields are %s", name, jsonFields)}
	}
	return &RowError{Err: fmt.Errorf("invalid JSON: %w", err)}
}

func knownJSONField(key []byte) bool {
	// encoding/json matches field names case-insensitively; so does this.
	for _, f := range columns {
		if bytes.EqualFold(key, []byte(f)) {
			return true
		}
	}
	return false
}

// objectMembers calls fn for each member of b, a JSON object already known
// to be valid, with the unescaped key, the key's byte offset in b and the
// raw value. It stops at the first error fn returns.
func objectMembers(b []byte, fn func(key []byte, keyOff int, val []byte) *RowError) *RowError {
	i := skipSpace(b, 0) + 1 // past '{'
	for {
		i = skipSpace(b, i)
		if i >= len(b) || b[i] == '}' {
			return nil
		}
		if b[i] == ',' {
			i = skipSpace(b, i+1)
		}
		keyOff := i
		end := skipString(b, i)
		key := b[i+1 : end-1]
		if bytes.IndexByte(key, '\\') >= 0 {
			var k string
			json.Unmarshal(b[i:end], &k) // valid JSON: cannot fail
			key = []byte(k)
		}
		i = skipSpace(b, end) + 1 // past ':'
		i = skipSpace(b, i)
		vend := skipValue(b, i)
		if err := fn(key, keyOff, b[i:vend]); err != nil {
			return err
		}
		i = vend
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}

// skipString returns the index just past the string starting at b[i] == '"'.
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(b)
}

// skipValue returns the index just past the value starting at b[i].
func skipValue(b []byte, i int) int {
	depth := 0
	for i < len(b) {
		switch b[i] {
		case '"':
			i = skipString(b, i)
			if depth == 0 {
				return i
			}
			continue
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				return i
			}
			depth--
			if depth == 0 {
				return i + 1
			}
		case ',', ' ', '\t', '\r', '\n':
			if depth == 0 {
				return i
			}
		}
		i++
	}
	return i
}

func jsonKind(t reflect.Type) string {
	switch {
	case t == nil:
		return "another type"
	case t.Kind() == reflect.String:
		return "a string"
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.String:
		return "an array of strings"
	case t.Kind() == reflect.Struct:
		return "an object"
	}
	return t.String()
}

// jsonOut is the canonical JSON Lines form, fields in PROTOCOL.md §6 order.
type jsonOut struct {
	GID      string           `json:"gid"`
	Barcode  string           `json:"barcode"`
	Name     string           `json:"gname"`
	Price    int64            `json:"price"`
	Unit     string           `json:"unit"`
	Category string           `json:"category,omitempty"`
	Stock    map[string]int64 `json:"stock,omitempty"`
	MacIDs   []string         `json:"mac_ids,omitempty"`
	RFIDs    []string         `json:"rfids,omitempty"`
}

type jsonlWriter struct {
	bw   *bufio.Writer
	enc  *json.Encoder
	uniq *uniques
	n    int
	err  error
}

func newJSONLWriter(w io.Writer) *jsonlWriter {
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	return &jsonlWriter{bw: bw, enc: enc, uniq: newUniques()}
}

func (jw *jsonlWriter) Write(g goods.Goods, stock map[string]int64) error {
	if jw.err != nil {
		return jw.err
	}
	jw.n++
	g.MacIDs, g.RFIDs = slicesClone(g.MacIDs), slicesClone(g.RFIDs)
	if err := checkForWrite(&g, &stock, jw.uniq, jw.n, FormatJSONL); err != nil {
		return err
	}
	out := jsonOut{GID: g.GID, Barcode: g.Barcode, Name: g.Name, Price: g.Price, Unit: g.Unit,
		Category: g.Category, Stock: stock, MacIDs: g.MacIDs, RFIDs: g.RFIDs}
	if err := jw.enc.Encode(&out); err != nil { // Encode ends the line
		jw.err = fmt.Errorf("write catalog jsonl: %w", err)
		return jw.err
	}
	return nil
}

func (jw *jsonlWriter) Flush() error {
	if jw.err != nil {
		return jw.err
	}
	if err := jw.bw.Flush(); err != nil {
		jw.err = fmt.Errorf("write catalog jsonl: %w", err)
	}
	return jw.err
}
