package catalogfile

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/storebox/storebox/protocol/goods"
)

// Limits.
const (
	MaxRowBytes = 1 << 20           // one CSV record or JSON line
	MaxAmount   = 1_000_000_000_000 // price or stock quantity; keeps price×weight_g in int64
)

const (
	maxGIDBytes    = 64
	maxNameRunes   = 200
	maxCatRunes    = 100
	maxWHBytes     = 64
	maxBarcode     = 20
	maxMacIDs      = 64
	maxRFIDs       = 10000
	minEPCHex      = 8
	maxEPCHex      = 124
	maxIntDigits   = 13 // MaxAmount has 13 digits
	columnGID      = "gid"
	columnBarcode  = "barcode"
	columnName     = "gname"
	columnPrice    = "price"
	columnUnit     = "unit"
	columnCategory = "category"
	columnStock    = "stock"
	columnMacIDs   = "mac_ids"
	columnRFIDs    = "rfids"
)

// fieldError is a problem with one field of a row; readers turn it into a
// RowError that also says where.
type fieldError struct {
	field string
	err   error
}

func (e *fieldError) Error() string { return e.field + ": " + e.err.Error() }

func fieldErrorf(field, format string, args ...any) *fieldError {
	return &fieldError{field: field, err: fmt.Errorf(format, args...)}
}

// normalizeGoods checks g the way every reader and writer does and brings it
// into canonical form. Goods.Stock is not part of a catalog row and is
// zeroed.
func normalizeGoods(g *goods.Goods) *fieldError {
	g.Stock = 0
	g.GID = strings.TrimSpace(g.GID)
	switch {
	case g.GID == "":
		return fieldErrorf(columnGID, "must not be empty")
	case len(g.GID) > maxGIDBytes:
		return fieldErrorf(columnGID, "%q is longer than %d bytes", g.GID, maxGIDBytes)
	}
	if err := checkText(g.GID); err != nil {
		return &fieldError{columnGID, err}
	}

	g.Barcode = strings.TrimSpace(g.Barcode)
	if len(g.Barcode) > maxBarcode {
		return fieldErrorf(columnBarcode, "%q is longer than %d digits", g.Barcode, maxBarcode)
	}
	if !allDigits(g.Barcode) {
		return fieldErrorf(columnBarcode, "%q must be digits only", g.Barcode)
	}

	if err := checkText(g.Name); err != nil {
		return &fieldError{columnName, err}
	}
	switch n := utf8.RuneCountInString(g.Name); {
	case strings.TrimSpace(g.Name) == "":
		return fieldErrorf(columnName, "must not be empty")
	case n > maxNameRunes:
		return fieldErrorf(columnName, "is %d characters long, at most %d allowed", n, maxNameRunes)
	}

	switch {
	case g.Price < 0:
		return fieldErrorf(columnPrice, "%d must not be negative", g.Price)
	case g.Price > MaxAmount:
		return fieldErrorf(columnPrice, "%d is more than %d", g.Price, int64(MaxAmount))
	}

	g.Unit = strings.ToLower(strings.TrimSpace(g.Unit))
	if g.Unit != goods.UnitPieces && g.Unit != goods.UnitKg {
		return fieldErrorf(columnUnit, "%q is not %s or %s", g.Unit, goods.UnitPieces, goods.UnitKg)
	}

	if err := checkText(g.Category); err != nil {
		return &fieldError{columnCategory, err}
	}
	if n := utf8.RuneCountInString(g.Category); n > maxCatRunes {
		return fieldErrorf(columnCategory, "is %d characters long, at most %d allowed", n, maxCatRunes)
	}

	var err error
	if g.MacIDs, err = normalizeList(g.MacIDs, maxMacIDs, "mac_id", NormalizeMAC); err != nil {
		return &fieldError{columnMacIDs, err}
	}
	if g.RFIDs, err = normalizeList(g.RFIDs, maxRFIDs, "rfid", NormalizeEPC); err != nil {
		return &fieldError{columnRFIDs, err}
	}
	// Backstop: whatever goods itself demands holds too.
	if err := g.Validate(); err != nil {
		field, _, _ := strings.Cut(err.Error(), ":")
		return &fieldError{field, err}
	}
	return nil
}

func normalizeList(in []string, limit int, what string, norm func(string) (string, error)) ([]string, error) {
	if len(in) == 0 {
		return nil, nil
	}
	if len(in) > limit {
		return nil, fmt.Errorf("%d entries, at most %d allowed", len(in), limit)
	}
	out := make([]string, len(in))
	for i, s := range in {
		n, err := norm(s)
		if err != nil {
			return nil, err
		}
		if slices.Contains(out[:i], n) {
			return nil, fmt.Errorf("%s %s is listed twice", what, n)
		}
		out[i] = n
	}
	return out, nil
}

// normalizeStock checks a warehouse → on-hand map. It returns nil for an
// empty map: a file that names no warehouse says nothing about stock.
func normalizeStock(stock map[string]int64) (map[string]int64, *fieldError) {
	if len(stock) == 0 {
		return nil, nil
	}
	// Sorted so that the first problem reported does not depend on map order.
	for _, wh := range slices.Sorted(maps.Keys(stock)) {
		if err := checkWarehouse(wh); err != nil {
			return nil, &fieldError{columnStock, err}
		}
		if err := checkQty(wh, stock[wh]); err != nil {
			return nil, &fieldError{columnStock, err}
		}
	}
	return stock, nil
}

func checkWarehouse(wh string) error {
	switch {
	case wh == "":
		return errors.New("warehouse name must not be empty")
	case len(wh) > maxWHBytes:
		return fmt.Errorf("warehouse %q is longer than %d bytes", wh, maxWHBytes)
	case !utf8.ValidString(wh):
		return fmt.Errorf("warehouse %q is not valid UTF-8", wh)
	}
	for _, r := range wh {
		if r <= ' ' || r == 0x7f || r == ':' || r == '|' || r == 0x85 || r == 0xa0 || r == 0x3000 {
			return fmt.Errorf("warehouse %q must not contain spaces, control characters, ':' or '|'", wh)
		}
	}
	return nil
}

func checkQty(wh string, q int64) error {
	switch {
	case q < 0:
		return fmt.Errorf("warehouse %s: quantity %d must not be negative", wh, q)
	case q > MaxAmount:
		return fmt.Errorf("warehouse %s: quantity %d is more than %d", wh, q, int64(MaxAmount))
	}
	return nil
}

// checkText rejects invalid UTF-8 and control characters.
func checkText(s string) error {
	for i, r := range s {
		switch {
		case r == utf8.RuneError:
			if _, size := utf8.DecodeRuneInString(s[i:]); size <= 1 {
				return fmt.Errorf("invalid UTF-8 at byte %d (save the file as UTF-8)", i+1)
			}
		case r < 0x20 || (r >= 0x7f && r < 0xa0):
			return fmt.Errorf("control character %U at byte %d", r, i+1)
		}
	}
	return nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// parseInt parses a decimal integer written with digits only (an optional
// leading "-"); ok is false for anything else, "+5" and "1e3" included.
func parseInt(s string) (int64, bool) {
	neg := false
	d := s
	if strings.HasPrefix(d, "-") {
		neg, d = true, d[1:]
	}
	if d == "" || len(d) > maxIntDigits+5 || !allDigits(d) {
		return 0, false
	}
	var n int64
	for i := 0; i < len(d); i++ {
		n = n*10 + int64(d[i]-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

// parsePrice parses a price cell: an integer amount in minor units.
func parsePrice(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, errors.New("must not be empty (an integer amount in minor units, e.g. 1250 for 12.50)")
	}
	n, ok := parseInt(s)
	if !ok {
		if whole, frac, dot := strings.Cut(s, "."); dot && allDigits(whole) && allDigits(frac) && whole != "" {
			return 0, fmt.Errorf("%q is not an integer amount in minor units (write %s%s for %s)", s, strings.TrimLeft(whole, "0"), padFrac(frac), s)
		}
		return 0, fmt.Errorf("%q is not an integer amount in minor units", s)
	}
	if n > MaxAmount {
		return 0, fmt.Errorf("%s is more than %d", s, int64(MaxAmount))
	}
	return n, nil
}

// padFrac shows the usual two-decimal conversion in the hint; it is only a
// hint, the store's currency decides the real factor.
func padFrac(frac string) string {
	if len(frac) >= 2 {
		return frac
	}
	return frac + strings.Repeat("0", 2-len(frac))
}

// parseQty parses one stock quantity.
func parseQty(wh, s string) (int64, error) {
	n, ok := parseInt(s)
	if !ok {
		return 0, fmt.Errorf("warehouse %s: quantity %q is not a whole number (pieces, or grams for kg goods)", wh, s)
	}
	return n, checkQty(wh, n)
}

// NormalizeMAC returns an e-label MAC address in canonical form,
// "A4:C1:38:00:00:01". It accepts upper or lower case hex with ':' or '-'
// separators or none, and an e-label equipId "ESL_A4C138000001".
func NormalizeMAC(s string) (string, error) {
	t := strings.TrimSpace(s)
	if len(t) > 4 && strings.EqualFold(t[:4], "ESL_") {
		t = t[4:]
	}
	var hex []byte
	switch len(t) {
	case 12:
		hex = []byte(t)
	case 17:
		sep := t[2]
		if sep != ':' && sep != '-' {
			return "", fmt.Errorf("mac_id %q is not a MAC address like A4:C1:38:00:00:01", s)
		}
		for i := 0; i < 17; i++ {
			if i%3 == 2 {
				if t[i] != sep {
					return "", fmt.Errorf("mac_id %q is not a MAC address like A4:C1:38:00:00:01", s)
				}
				continue
			}
			hex = append(hex, t[i])
		}
	default:
		return "", fmt.Errorf("mac_id %q is not a MAC address like A4:C1:38:00:00:01", s)
	}
	out := make([]byte, 0, 17)
	for i, c := range hex {
		u, ok := upperHex(c)
		if !ok {
			return "", fmt.Errorf("mac_id %q is not a MAC address like A4:C1:38:00:00:01", s)
		}
		if i > 0 && i%2 == 0 {
			out = append(out, ':')
		}
		out = append(out, u)
	}
	return string(out), nil
}

// NormalizeEPC returns an RFID tag id (EPC or TID, hex) in canonical
// upper-case form: an even number of 8 to 124 hex digits.
func NormalizeEPC(s string) (string, error) {
	t := strings.TrimSpace(s)
	if len(t) < minEPCHex || len(t) > maxEPCHex || len(t)%2 != 0 {
		return "", fmt.Errorf("rfid %q: want an even number of %d to %d hex digits, like E2801160600002084B3D9A11", s, minEPCHex, maxEPCHex)
	}
	out := []byte(t)
	for i, c := range out {
		u, ok := upperHex(c)
		if !ok {
			return "", fmt.Errorf("rfid %q: %q is not a hex digit", s, c)
		}
		out[i] = u
	}
	return string(out), nil
}

func upperHex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9', c >= 'A' && c <= 'F':
		return c, true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 'A', true
	}
	return 0, false
}

// ValidEAN13 reports whether s is 13 digits with a correct check digit.
func ValidEAN13(s string) bool {
	if len(s) != 13 || !allDigits(s) {
		return false
	}
	d, _ := EAN13CheckDigit(s[:12])
	return s[12] == d
}

// EAN13CheckDigit returns the check digit for the first 12 digits of an
// EAN-13.
func EAN13CheckDigit(first12 string) (byte, error) {
	if len(first12) != 12 || !allDigits(first12) {
		return 0, fmt.Errorf("ean-13: %q is not 12 digits", first12)
	}
	sum := 0
	for i := 0; i < 12; i++ {
		v := int(first12[i] - '0')
		if i%2 == 1 {
			v *= 3
		}
		sum += v
	}
	return byte('0' + (10-sum%10)%10), nil
}
