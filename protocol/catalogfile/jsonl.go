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
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var jr jsonRow
	if err := dec.Decode(&jr); err != nil {
		return row, jsonError(err)
	}
	if rest := b[dec.InputOffset():]; len(bytes.TrimSpace(rest)) != 0 {
		off := len(b) - len(bytes.TrimLeft(rest, " \t\r\n"))
		return row, &RowError{Offset: off + 1, Err: errors.New("text after the JSON object (one object per line)")}
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
	dec := json.NewDecoder(bytes.NewReader(s))
	tok, err := dec.Token() // '{'
	if err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("%s: want {\"WH\": qty}", s)
	}
	stock := make(map[string]int64)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("want {\"WH\": qty}: %w", err)
		}
		wh := tok.(string) // object keys are always strings
		var q json.RawMessage
		if err := dec.Decode(&q); err != nil {
			return nil, fmt.Errorf("warehouse %s: %w", wh, err)
		}
		if err := checkWarehouse(wh); err != nil {
			return nil, err
		}
		if _, dup := stock[wh]; dup {
			return nil, fmt.Errorf("warehouse %s is listed twice", wh)
		}
		if len(q) == 0 || (q[0] != '-' && (q[0] < '0' || q[0] > '9')) {
			return nil, fmt.Errorf("warehouse %s: quantity %s is not a number", wh, q)
		}
		if stock[wh], err = parseQty(wh, string(q)); err != nil {
			return nil, err
		}
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

// jsonOut is the canonical JSON Lines form, fields in SPEC order.
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
