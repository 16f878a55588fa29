package catalogindex

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/storebox/storebox/protocol/catalogfile/synth"
)

// storedJSON is a goods as the store keeps it (the wire object minus
// stock), with its barcode and lower-cased name.
func storedJSON(i int) (raw, gid, code, lname []byte) {
	g, _ := synth.Goods(i)
	g.Stock = 0
	b, _ := json.Marshal(struct {
		GID      string   `json:"gid"`
		Barcode  string   `json:"barcode"`
		Name     string   `json:"gname"`
		Price    int64    `json:"price"`
		Unit     string   `json:"unit"`
		Category string   `json:"category,omitempty"`
		MacIDs   []string `json:"mac_ids,omitempty"`
		RFIDs    []string `json:"rfids,omitempty"`
	}{g.GID, g.Barcode, g.Name, g.Price, string(g.Unit), g.Category, g.MacIDs, g.RFIDs})
	return b, []byte(g.GID), []byte(g.Barcode), []byte(strings.ToLower(g.Name))
}

func TestPackRoundTripAndSize(t *testing.T) {
	p := newPacker()
	var rawBytes, packedBytes int
	for i := range 20000 {
		raw, gid, code, lname := storedJSON(i)
		packed := p.pack(nil, raw, gid, code, lname)
		got, ok := p.unpack(nil, packed, gid, code, lname)
		if !ok || !bytes.Equal(got, raw) {
			t.Fatalf("goods %d: %s back, want %s", i, got, raw)
		}
		if n := p.size(packed, gid, code, lname); n != len(raw) {
			t.Fatalf("goods %d: size %d, want %d", i, n, len(raw))
		}
		rawBytes += len(raw)
		packedBytes += len(packed)
	}
	// The point of packing: keys, gid, barcode and repeated units and
	// categories are not stored per goods.
	if packedBytes*2 > rawBytes {
		t.Fatalf("packed %d bytes of %d: less than half expected", packedBytes, rawBytes)
	}
	t.Logf("packed %d → %d bytes (%.0f%%), %d shapes, %d shared values", rawBytes, packedBytes, 100*float64(packedBytes)/float64(rawBytes), len(p.shapes), len(p.dict))
}

func TestPackOddInputs(t *testing.T) {
	p := newPacker()
	for _, raw := range []string{
		``, `{`, `{}`, `{} `, `[1,2]`, `{"a":1}`, `{"a":}`, `{"a":"x\"y","b":[1,{"c":"]"}],"unit":"kg"}`,
		`{"a":1,}`, `{"a" : 1}`, `{"gid":"g","gid":"g"}`, `{"unit":"` + strings.Repeat("x", 100) + `"}`,
		`not json`, `{"a":"unterminated}`,
	} {
		packed := p.pack(nil, []byte(raw), []byte("g"), []byte("c"), []byte("n"))
		got, ok := p.unpack(nil, packed, []byte("g"), []byte("c"), []byte("n"))
		if !ok || string(got) != raw {
			t.Errorf("%q: %q back (ok %v)", raw, got, ok)
		}
	}
}

// Whatever the input, packing then unpacking gives it back; and unpacking
// bytes pack did not write fails cleanly instead of panicking.
func FuzzPackRoundTrip(f *testing.F) {
	for i := range 5 {
		raw, gid, code, lname := storedJSON(i)
		f.Add(raw, gid, code, lname)
	}
	f.Add([]byte(`{"gid":"g","unit":"pcs","category":"x"}`), []byte("g"), []byte(""), []byte(""))
	f.Add([]byte(`{"a":[{"b":"}"}],"c":"\\\""}`), []byte("a"), []byte("b"), []byte("c"))
	f.Fuzz(func(t *testing.T, raw, gid, code, lname []byte) {
		p := newPacker()
		// A shape and dictionary seen before, as in a real index.
		seed, sg, sc, sl := storedJSON(3)
		p.pack(nil, seed, sg, sc, sl)
		packed := p.pack(nil, raw, gid, code, lname)
		got, ok := p.unpack(nil, packed, gid, code, lname)
		if !ok || !bytes.Equal(got, raw) {
			t.Fatalf("%q: %q back (ok %v)", raw, got, ok)
		}
		if n := p.size(packed, gid, code, lname); n != len(raw) {
			t.Fatalf("%q: size %d, want %d", raw, n, len(raw))
		}
		// Arbitrary bytes as packed: no panic.
		p.unpack(nil, raw, gid, code, lname)
		p.size(raw, gid, code, lname)
	})
}
