package catalogfile

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/storebox/storebox/protocol/goods"
)

// columns in PROTOCOL.md §6 order; the CSV writer writes them in this order.
var columns = [...]string{columnGID, columnBarcode, columnName, columnPrice, columnUnit, columnCategory, columnStock, columnMacIDs, columnRFIDs}

const (
	colGID = iota
	colBarcode
	colName
	colPrice
	colUnit
	colCategory
	colStock
	colMacIDs
	colRFIDs
	nColumns
)

var requiredColumns = [...]int{colGID, colName, colPrice, colUnit}

const csvBufSize = 64 << 10

func readCSV(r io.Reader, defaultWarehouse string, fn func(Row) error) error {
	lim := &rowLimiter{r: r, max: MaxRowBytes + csvBufSize}
	br := bufio.NewReaderSize(lim, csvBufSize)
	if b, _ := br.Peek(len(utf8BOM)); bytes.Equal(b, utf8BOM) {
		br.Discard(len(utf8BOM))
	}
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	// Hand-written files put a space after the comma; leading space inside
	// quotes is kept, and the writer quotes such fields.
	cr.TrimLeadingSpace = true

	header, err := cr.Read()
	if err == io.EOF {
		return &RowError{Format: FormatCSV, Line: 1, Err: errors.New("empty file: want a header row naming the columns, e.g. " + strings.Join(columns[:], ","))}
	}
	if err != nil {
		return csvReadError(err, 1)
	}
	headerLine, _ := cr.FieldPos(0)
	var idx [nColumns]int
	names := make([]string, len(header)) // lower-case, for messages
	for i := range idx {
		idx[i] = -1
	}
	for i, name := range header {
		if !utf8.ValidString(name) {
			return &RowError{Format: FormatCSV, Line: headerLine, Index: i + 1, Err: errors.New("header is not valid UTF-8 (save the file as UTF-8)")}
		}
		key := strings.ToLower(strings.TrimSpace(name))
		names[i] = key
		c := columnIndex(key)
		switch {
		case c < 0:
			return &RowError{Format: FormatCSV, Line: headerLine, Column: name, Index: i + 1,
				Err: fmt.Errorf("unknown column %q; known columns are %s", name, strings.Join(columns[:], ","))}
		case idx[c] >= 0:
			return &RowError{Format: FormatCSV, Line: headerLine, Column: key, Index: i + 1,
				Err: fmt.Errorf("column %s appears twice (also field %d)", key, idx[c]+1)}
		}
		idx[c] = i
	}
	var missing []string
	for _, c := range requiredColumns {
		if idx[c] < 0 {
			missing = append(missing, columns[c])
		}
	}
	if len(missing) > 0 {
		return &RowError{Format: FormatCSV, Line: headerLine,
			Err: fmt.Errorf("header lacks required column(s) %s (is the first line the header?)", strings.Join(missing, ","))}
	}
	nFields := len(header)
	uniq := newUniques()
	lim.reset()

	line := headerLine
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return csvReadError(err, line+1)
		}
		lim.reset()
		line, _ = cr.FieldPos(0)
		if len(rec) != nFields {
			if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
				continue // a line of spaces
			}
			return &RowError{Format: FormatCSV, Line: line,
				Err: fmt.Errorf("%d fields, the header has %d (quote fields that contain commas)", len(rec), nFields)}
		}
		empty := true
		for i, f := range rec {
			if !utf8.ValidString(f) {
				return &RowError{Format: FormatCSV, Line: line, Column: names[i], Index: i + 1,
					Err: errors.New("invalid UTF-8 (save the file as UTF-8)")}
			}
			if empty && strings.TrimSpace(f) != "" {
				empty = false
			}
		}
		if empty {
			continue
		}
		row, ferr := csvRow(rec, &idx, defaultWarehouse)
		if ferr == nil {
			ferr = uniq.checkUnique(&row.Goods, line)
		}
		if ferr != nil {
			e := &RowError{Format: FormatCSV, Line: line, Column: ferr.field, Err: ferr.err}
			if c := columnIndex(ferr.field); c >= 0 && idx[c] >= 0 {
				e.Index = idx[c] + 1
			}
			return e
		}
		row.Line = line
		if err := callRow(fn, row); err != nil {
			return err
		}
	}
}

func columnIndex(name string) int {
	for i, c := range columns {
		if c == name {
			return i
		}
	}
	return -1
}

func csvRow(rec []string, idx *[nColumns]int, defaultWarehouse string) (Row, *fieldError) {
	get := func(c int) string {
		if idx[c] < 0 {
			return ""
		}
		return rec[idx[c]]
	}
	var row Row
	g := &row.Goods
	g.GID = get(colGID)
	g.Barcode = get(colBarcode)
	g.Name = get(colName)
	g.Unit = get(colUnit)
	g.Category = get(colCategory)
	var err error
	if g.Price, err = parsePrice(get(colPrice)); err != nil {
		return row, &fieldError{columnPrice, err}
	}
	g.MacIDs = splitList(get(colMacIDs))
	g.RFIDs = splitList(get(colRFIDs))
	if ferr := normalizeGoods(g); ferr != nil {
		return row, ferr
	}
	stock, err := parseStockCell(get(colStock), defaultWarehouse)
	if err != nil {
		return row, &fieldError{columnStock, err}
	}
	row.Stock, row.HasStock = stock, stock != nil
	return row, nil
}

// splitList splits a '|'-separated cell. Entries are trimmed; an empty entry
// is kept so that normalization reports it.
func splitList(s string) []string {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil
	}
	parts := strings.Split(s, "|")
	for i, p := range parts {
		parts[i] = strings.TrimSpace(p)
	}
	return parts
}

// parseStockCell parses "WH:qty|WH:qty"; a bare quantity is for
// defaultWarehouse. It returns nil for an empty cell.
func parseStockCell(s, defaultWarehouse string) (map[string]int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	stock := make(map[string]int64, 1)
	for part := range strings.SplitSeq(s, "|") {
		part = strings.TrimSpace(part)
		if part == "" {
			return nil, fmt.Errorf("%q has an empty entry; write WH:qty|WH:qty", s)
		}
		wh, q, named := strings.Cut(part, ":")
		if !named {
			if defaultWarehouse == "" {
				return nil, fmt.Errorf("%q: a bare quantity needs a selling warehouse; write WH:qty", part)
			}
			wh, q = defaultWarehouse, part
		}
		wh, q = strings.TrimSpace(wh), strings.TrimSpace(q)
		if err := checkWarehouse(wh); err != nil {
			return nil, err
		}
		n, err := parseQty(wh, q)
		if err != nil {
			return nil, err
		}
		if _, dup := stock[wh]; dup {
			return nil, fmt.Errorf("warehouse %s is listed twice", wh)
		}
		stock[wh] = n
	}
	return stock, nil
}

// csvReadError turns an error from csv.Reader into a RowError; nextLine is
// where the row being read presumably starts.
func csvReadError(err error, nextLine int) error {
	if errors.Is(err, errRowTooLong) {
		return &RowError{Format: FormatCSV, Line: nextLine, Err: fmt.Errorf("%w (a missing closing quote?)", errRowTooLong)}
	}
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		msg := pe.Err.Error()
		switch {
		case errors.Is(pe.Err, csv.ErrBareQuote):
			msg += ` (put the field in double quotes and double every " inside it)`
		case errors.Is(pe.Err, csv.ErrQuote):
			msg += ` (a quoted field must end with " followed by a comma or the end of the line)`
		}
		e := &RowError{Format: FormatCSV, Line: pe.Line, Err: errors.New(msg)}
		if pe.Column > 0 {
			e.Err = fmt.Errorf("character %d: %s", pe.Column, msg)
		}
		return e
	}
	return fmt.Errorf("read catalog csv: %w", err)
}

// csvWriter writes the canonical CSV form.
type csvWriter struct {
	w           *csv.Writer
	uniq        *uniques
	n           int
	wroteHeader bool
	rec         [nColumns]string
	buf         []byte
	err         error
}

func newCSVWriter(w io.Writer) *csvWriter {
	return &csvWriter{w: csv.NewWriter(w), uniq: newUniques()}
}

func (cw *csvWriter) header() error {
	if !cw.wroteHeader {
		cw.wroteHeader = true
		return cw.w.Write(columns[:])
	}
	return nil
}

func (cw *csvWriter) Write(g goods.Goods, stock map[string]int64) error {
	if cw.err != nil {
		return cw.err
	}
	cw.n++
	g.MacIDs, g.RFIDs = slicesClone(g.MacIDs), slicesClone(g.RFIDs)
	if err := checkForWrite(&g, &stock, cw.uniq, cw.n+1, FormatCSV); err != nil { // +1: the header
		return err
	}
	if err := cw.header(); err != nil {
		cw.err = fmt.Errorf("write catalog csv: %w", err)
		return cw.err
	}
	cw.rec[colGID] = g.GID
	cw.rec[colBarcode] = g.Barcode
	cw.rec[colName] = g.Name
	cw.buf = appendInt(cw.buf[:0], g.Price)
	cw.rec[colPrice] = string(cw.buf)
	cw.rec[colUnit] = g.Unit
	cw.rec[colCategory] = g.Category
	cw.rec[colStock] = formatStockCell(stock)
	cw.rec[colMacIDs] = strings.Join(g.MacIDs, "|")
	cw.rec[colRFIDs] = strings.Join(g.RFIDs, "|")
	if err := cw.w.Write(cw.rec[:]); err != nil {
		cw.err = fmt.Errorf("write catalog csv: %w", err)
		return cw.err
	}
	return nil
}

func (cw *csvWriter) Flush() error {
	if cw.err != nil {
		return cw.err
	}
	if err := cw.header(); err != nil {
		cw.err = fmt.Errorf("write catalog csv: %w", err)
		return cw.err
	}
	cw.w.Flush()
	if err := cw.w.Error(); err != nil {
		cw.err = fmt.Errorf("write catalog csv: %w", err)
		return cw.err
	}
	return nil
}
