// Command gencatalog writes a deterministic synthetic catalog for benchmarks
// and load tests:
//
//	go run ./cmd/gencatalog -n 1000000 -format csv > big.csv
//
// Goods have unique gids and valid EAN-13 barcodes, Chinese and English
// names (some with commas and quotes), weighed kg goods, stock in several
// warehouses, e-label MACs and RFID tags. The same -n and -start always give
// the same bytes.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/storebox/storebox/protocol/catalogfile"
	"github.com/storebox/storebox/protocol/catalogfile/synth"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "gencatalog:", err)
		os.Exit(2)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("gencatalog", flag.ContinueOnError)
	n := fs.Int("n", 1000, "number of goods")
	start := fs.Int("start", 0, "index of the first goods (to make disjoint catalogs)")
	formatName := fs.String("format", "csv", "csv or jsonl")
	out := fs.String("o", "-", "output file (- for stdout)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	format, err := catalogfile.ParseFormat(*formatName)
	if err != nil {
		return err
	}
	if *n < 0 || *start < 0 || *start+*n > 1e10 {
		return fmt.Errorf("-start and -n must be ≥ 0 with start+n ≤ 10000000000")
	}
	w := stdout
	if *out != "-" {
		f, err := os.Create(*out)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	cw := catalogfile.NewWriter(bw, format)
	for i := *start; i < *start+*n; i++ {
		g, stock := synth.Goods(i)
		if err := cw.Write(g, stock); err != nil {
			return err
		}
	}
	if err := cw.Flush(); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", *out, err)
	}
	if f, ok := w.(*os.File); ok && *out != "-" {
		if err := f.Close(); err != nil {
			return fmt.Errorf("close %s: %w", *out, err)
		}
	}
	return nil
}
