package report

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/storebox/storebox/daemon/orders"
	"github.com/storebox/storebox/daemon/store/datafile"
)

// DataStats is `storebox data stats`: the store file and what it holds.
type DataStats struct {
	File          datafile.Stats    `json:"file"`
	FreeShare     float64           `json:"free_share"`
	OrdersByState map[string]int    `json:"orders_by_state"`
	OrdersByAge   []orders.AgeCount `json:"orders_by_age"`
}

// MB writes a byte count in megabytes.
func MB(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/(1<<20)) }

// Data renders DataStats.
func Data(w io.Writer, s DataStats) {
	fmt.Fprintf(w, "store file   %s\n", s.File.Path)
	fmt.Fprintf(w, "schema       %d\n", s.File.Schema)
	fmt.Fprintf(w, "size         %s\n", MB(s.File.Size))
	fmt.Fprintf(w, "free         %s (%.0f%% of the file; `storebox data compact` gives it back)\n", MB(s.File.Free), 100*s.FreeShare)
	var states []string
	for st, n := range s.OrdersByState {
		states = append(states, fmt.Sprintf("%s %d", st, n))
	}
	sort.Strings(states)
	fmt.Fprintf(w, "orders       %s\n", strings.Join(states, ", "))
	var ages []string
	for _, a := range s.OrdersByAge {
		ages = append(ages, fmt.Sprintf("%s %d", a.Label, a.Orders))
	}
	fmt.Fprintf(w, "orders, age  %s\n", strings.Join(ages, ", "))
	fmt.Fprintln(w, "buckets (keys)")
	for _, b := range s.File.Buckets {
		fmt.Fprintf(w, "  %-16s %d\n", b.Name, b.Keys)
	}
}
