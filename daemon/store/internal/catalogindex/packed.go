package catalogindex

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// A goods' stored JSON is json.Marshal's object with the same keys in the
// same order for almost every goods, and often the same unit and category.
// packGoods keeps it as its shape (the bytes between the values: keys and
// punctuation, shared by every goods of that shape) and its values, each a
// reference to the row's own gid, barcode or lower-cased name when it is
// exactly that string, a shared entry for repeating short values (unit,
// category), or the literal bytes. A million goods' JSON takes about a
// third of the memory, and unpacking is a few appends.
//
// Packing is a partition of the bytes, not a parse: any input, JSON or
// not, unpacks to exactly itself (FuzzPackRoundTrip); input it cannot
// split is kept verbatim.
type packer struct {
	shapes   []shape
	shapeIDs map[string]uint32
	dict     [][]byte
	dictIDs  map[string]uint32
	keyBuf   []byte
}

// shape is the bytes around an object's values: seps[0] before the first
// value, seps[i] between values i-1 and i, the last one after the last.
type shape struct {
	seps  [][]byte
	fixed int // the separators' bytes
	// shared marks the values worth a dictionary entry (by key).
	shared []bool
}

const (
	valGID   = iota // the row's gid as a JSON string
	valCode         // the row's barcode as a JSON string
	valLName        // the row's lower-cased name as a JSON string
	valFirst        // literals (even) and dictionary entries (odd) from here

	maxShapes    = 1 << 12
	maxDict      = 1 << 16
	maxSharedLen = 48
)

// sharedKeys are the keys whose values repeat across goods.
var sharedKeys = [][]byte{[]byte(`"unit":`), []byte(`"category":`)}

func newPacker() *packer {
	return &packer{shapeIDs: map[string]uint32{}, dictIDs: map[string]uint32{}}
}

// split cuts a flat JSON object into separators and values; ok is false
// for anything else (the caller keeps it verbatim).
func split(raw []byte, seps, vals [][]byte) ([][]byte, [][]byte, bool) {
	if len(raw) < 2 || raw[0] != '{' {
		return nil, nil, false
	}
	start := 0 // where the current separator began
	i := 1
	if raw[i] == '}' {
		return append(seps, raw), vals, i == len(raw)-1
	}
	for {
		// A key, a colon, a value, then a comma or the closing brace.
		if i >= len(raw) || raw[i] != '"' {
			return nil, nil, false
		}
		end, ok := skipString(raw, i)
		if !ok || end >= len(raw) || raw[end] != ':' {
			return nil, nil, false
		}
		i = end + 1
		seps = append(seps, raw[start:i])
		end, ok = skipValue(raw, i)
		if !ok || end >= len(raw) {
			return nil, nil, false
		}
		vals = append(vals, raw[i:end])
		start, i = end, end+1
		switch raw[end] {
		case ',':
		case '}':
			return append(seps, raw[start:]), vals, i == len(raw)
		default:
			return nil, nil, false
		}
	}
}

// skipString returns the index after the string starting at raw[i] ('"').
func skipString(raw []byte, i int) (int, bool) {
	for j := i + 1; j < len(raw); j++ {
		switch raw[j] {
		case '\\':
			j++
		case '"':
			return j + 1, true
		}
	}
	return 0, false
}

// skipValue returns the index after the value starting at raw[i]: a string,
// an array or object (nesting counted, strings skipped), or a scalar up to
// the next ',' or '}'.
func skipValue(raw []byte, i int) (int, bool) {
	if i >= len(raw) {
		return 0, false
	}
	switch raw[i] {
	case '"':
		return skipString(raw, i)
	case '[', '{':
		depth := 0
		for j := i; j < len(raw); j++ {
			switch raw[j] {
			case '"':
				end, ok := skipString(raw, j)
				if !ok {
					return 0, false
				}
				j = end - 1
			case '[', '{':
				depth++
			case ']', '}':
				depth--
				if depth == 0 {
					return j + 1, true
				}
			}
		}
		return 0, false
	}
	j := i
	for j < len(raw) && raw[j] != ',' && raw[j] != '}' {
		j++
	}
	return j, j > i
}

// isQuoted reports whether v is exactly s in quotes.
func isQuoted(v, s []byte) bool {
	return len(v) == len(s)+2 && v[0] == '"' && v[len(v)-1] == '"' && bytes.Equal(v[1:len(v)-1], s)
}

// pack appends raw's packed form to dst.
func (p *packer) pack(dst, raw, gid, code, lname []byte) []byte {
	var sepBuf, valBuf [12][]byte
	seps, vals, ok := split(raw, sepBuf[:0], valBuf[:0])
	var id uint32
	if ok {
		id, ok = p.shapeID(seps)
	}
	if !ok {
		dst = append(dst, 0)
		return append(dst, raw...)
	}
	dst = binary.AppendUvarint(dst, uint64(id)+1)
	sh := &p.shapes[id]
	for i, v := range vals {
		switch {
		case isQuoted(v, gid):
			dst = binary.AppendUvarint(dst, valGID)
		case len(code) > 0 && isQuoted(v, code):
			dst = binary.AppendUvarint(dst, valCode)
		case len(lname) > 0 && isQuoted(v, lname):
			dst = binary.AppendUvarint(dst, valLName)
		default:
			if sh.shared[i] && len(v) <= maxSharedLen {
				if d, ok := p.dictID(v); ok {
					dst = binary.AppendUvarint(dst, valFirst+2*uint64(d)+1)
					continue
				}
			}
			dst = binary.AppendUvarint(dst, valFirst+2*uint64(len(v)))
			dst = append(dst, v...)
		}
	}
	return dst
}

func (p *packer) shapeID(seps [][]byte) (uint32, bool) {
	key := p.keyBuf[:0]
	for _, s := range seps {
		key = append(append(key, s...), 0)
	}
	p.keyBuf = key
	if id, ok := p.shapeIDs[string(key)]; ok { // no allocation: the compiler looks up with the bytes
		return id, true
	}
	if len(p.shapes) >= maxShapes {
		return 0, false
	}
	sh := shape{seps: make([][]byte, len(seps)), shared: make([]bool, len(seps)-1)}
	for i, s := range seps {
		sh.seps[i] = bytes.Clone(s)
		sh.fixed += len(s)
		for _, k := range sharedKeys {
			if i < len(sh.shared) && bytes.HasSuffix(s, k) {
				sh.shared[i] = true
			}
		}
	}
	id := uint32(len(p.shapes))
	p.shapes = append(p.shapes, sh)
	p.shapeIDs[string(key)] = id
	return id, true
}

func (p *packer) dictID(v []byte) (uint32, bool) {
	if id, ok := p.dictIDs[string(v)]; ok {
		return id, true
	}
	if len(p.dict) >= maxDict {
		return 0, false
	}
	id := uint32(len(p.dict))
	p.dict = append(p.dict, bytes.Clone(v))
	p.dictIDs[string(v)] = id
	return id, true
}

// size is how many bytes unpack appends for packed (0 if malformed).
func (p *packer) size(packed []byte, gid, code, lname []byte) int {
	id, n := binary.Uvarint(packed)
	if n <= 0 {
		return 0
	}
	if id == 0 || id > uint64(len(p.shapes)) {
		return len(packed) - n
	}
	b := packed[n:]
	sh := &p.shapes[id-1]
	total := sh.fixed
	for len(b) > 0 {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			return 0
		}
		b = b[n:]
		switch v {
		case valGID:
			total += len(gid) + 2
		case valCode:
			total += len(code) + 2
		case valLName:
			total += len(lname) + 2
		default:
			w := v - valFirst
			if w&1 == 1 {
				if w>>1 < uint64(len(p.dict)) {
					total += len(p.dict[w>>1])
				}
			} else if l := w >> 1; l <= uint64(len(b)) {
				total += int(l)
				b = b[l:]
			}
		}
	}
	return total
}

// unpack appends the bytes packed to dst; ok is false if packed is not
// something pack wrote with this packer.
func (p *packer) unpack(dst, packed, gid, code, lname []byte) ([]byte, bool) {
	if len(packed) == 0 {
		return dst, false
	}
	id, n := binary.Uvarint(packed)
	if n <= 0 {
		return dst, false
	}
	if id == 0 {
		return append(dst, packed[n:]...), true
	}
	if id > uint64(len(p.shapes)) {
		return dst, false
	}
	b := packed[n:]
	sh := &p.shapes[id-1]
	dst = append(dst, sh.seps[0]...)
	for _, sep := range sh.seps[1:] {
		var v uint64
		if len(b) > 0 && b[0] < 0x80 { // the usual one-byte tag
			v, b = uint64(b[0]), b[1:]
		} else {
			var n int
			if v, n = binary.Uvarint(b); n <= 0 {
				return dst, false
			}
			b = b[n:]
		}
		switch v {
		case valGID, valCode, valLName:
			s := gid
			if v == valCode {
				s = code
			} else if v == valLName {
				s = lname
			}
			dst = append(dst, '"')
			dst = append(dst, s...)
			dst = append(dst, '"')
		default:
			w := v - valFirst
			if w&1 == 1 {
				if w>>1 >= uint64(len(p.dict)) {
					return dst, false
				}
				dst = append(dst, p.dict[w>>1]...)
			} else {
				if w>>1 > uint64(len(b)) {
					return dst, false
				}
				dst = append(dst, b[:w>>1]...)
				b = b[w>>1:]
			}
		}
		dst = append(dst, sep...)
	}
	return dst, len(b) == 0
}

var (
	keyBarcode = []byte(`"barcode":`)
	keyName    = []byte(`"gname":`)
)

// goodsKeys reads the barcode and the name from a goods' stored JSON.
func goodsKeys(raw []byte) (code, name []byte) {
	var sepBuf, valBuf [12][]byte
	seps, vals, ok := split(raw, sepBuf[:0], valBuf[:0])
	if !ok {
		return nil, nil
	}
	for i, v := range vals {
		switch {
		case bytes.HasSuffix(seps[i], keyBarcode):
			code = jsonString(v)
		case bytes.HasSuffix(seps[i], keyName):
			name = jsonString(v)
		}
	}
	return code, name
}

// jsonString decodes a JSON string token (nil if it is not one).
func jsonString(v []byte) []byte {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' && bytes.IndexByte(v, '\\') < 0 {
		return v[1 : len(v)-1]
	}
	var s string
	if json.Unmarshal(v, &s) != nil {
		return nil
	}
	return []byte(s)
}

// lower is the name as the store's name index keeps it.
func lower(name []byte) []byte {
	for _, c := range name {
		if c >= utf8.RuneSelf || 'A' <= c && c <= 'Z' {
			return []byte(strings.ToLower(string(name)))
		}
	}
	return name
}
