package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/storebox/storebox/protocol/catalogfile"
)

func TestGenerate(t *testing.T) {
	for _, format := range []string{"csv", "jsonl"} {
		t.Run(format, func(t *testing.T) {
			var a, b bytes.Buffer
			if err := run([]string{"-n", "3000", "-format", format}, &a); err != nil {
				t.Fatal(err)
			}
			if err := run([]string{"-n", "3000", "-format", format}, &b); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(a.Bytes(), b.Bytes()) {
				t.Fatal("two runs with the same flags differ")
			}
			f, _ := catalogfile.ParseFormat(format)
			if got := catalogfile.DetectFormat("", a.Bytes()); got != f {
				t.Errorf("output detected as %v", got)
			}
			// Read rejects repeated gids, mac_ids and rfids, so this also
			// checks they are unique.
			var n, kg, macs, rfids, quoted int
			err := catalogfile.Read(&a, f, "main", func(r catalogfile.Row) error {
				n++
				if !catalogfile.ValidEAN13(r.Goods.Barcode) {
					t.Errorf("line %d: barcode %q is not a valid EAN-13", r.Line, r.Goods.Barcode)
				}
				if r.Goods.Unit == "kg" {
					kg++
				}
				macs += len(r.Goods.MacIDs)
				rfids += len(r.Goods.RFIDs)
				if bytes.ContainsAny([]byte(r.Goods.Name), `,"`) {
					quoted++
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if n != 3000 || kg == 0 || macs == 0 || rfids == 0 || quoted == 0 {
				t.Errorf("%d goods, %d kg, %d mac_ids, %d rfids, %d names needing quotes", n, kg, macs, rfids, quoted)
			}
		})
	}
}

func TestGenerateStartAndFile(t *testing.T) {
	out := filepath.Join(t.TempDir(), "part.csv")
	if err := run([]string{"-n", "10", "-start", "5", "-o", out}, nil); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var gids []string
	if err := catalogfile.Read(bytes.NewReader(data), catalogfile.FormatCSV, "main", func(r catalogfile.Row) error {
		gids = append(gids, r.Goods.GID)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(gids) != 10 || gids[0] != "G00000005" || gids[9] != "G00000014" {
		t.Fatalf("gids = %v", gids)
	}
}

func TestGenerateBadFlags(t *testing.T) {
	for _, args := range [][]string{{"-format", "xml"}, {"-n", "-1"}, {"-start", "9999999999", "-n", "2"}, {"-bogus"}} {
		if err := run(args, &bytes.Buffer{}); err == nil {
			t.Errorf("run(%q) succeeded", args)
		}
	}
}
