package report

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/storebox/storebox/daemon/devices"
	"github.com/storebox/storebox/daemon/discovery"
	"github.com/storebox/storebox/daemon/doctor"
	"github.com/storebox/storebox/daemon/servicectl"
	"github.com/storebox/storebox/daemon/store"
	"github.com/storebox/storebox/daemon/store/admission"
	"github.com/storebox/storebox/internal/termtext"
)

// Boxes lists discovered daemons, one line each.
func Boxes(w io.Writer, boxes []discovery.Box) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, b := range boxes {
		// Every field came from a datagram anyone on the LAN may send.
		line := fmt.Sprintf("%s\t%s\t%s\tmqtt=%d\thttp=%d\tversion=%s\tvia=%s",
			Dash(b.StoreID), Dash(b.Name), termtext.Safe(net.JoinHostPort(b.Host, fmt.Sprint(b.Port))),
			b.MQTTPort, b.HTTPPort, Dash(b.Version), termtext.Safe(strings.Join(b.Via, ",")))
		if len(b.Addrs) > 1 {
			line += "\talso=" + termtext.Safe(strings.Join(b.Addrs[1:], ","))
		}
		fmt.Fprintln(tw, line)
	}
	return tw.Flush()
}

// Devices lists known devices with whether each has a live session.
func Devices(w io.Writer, devs []admission.Device, sessions []devices.SessionInfo, now time.Time) error {
	online := map[string]devices.SessionInfo{}
	for _, s := range sessions {
		online[s.EquipID] = s
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "EQUIP ID\tKIND\tSTATUS\tONLINE\tADDR\tLAST SEEN")
	for _, d := range devs {
		on := "-"
		if s, ok := online[d.EquipID]; ok {
			on = termtext.Safe("yes (" + s.Framing + ", " + s.Charset + ")")
		}
		kind := d.Kind
		if kind == "" { // approved ahead of its first login
			kind = "unknown"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", Dash(d.EquipID), Dash(kind), Dash(d.Status), on, Dash(d.Addr), Time(d.LastSeen, now))
	}
	return tw.Flush()
}

// Service writes the system service's state.
func Service(w io.Writer, st servicectl.Status) {
	fmt.Fprintf(w, "storebox service: %s\n", st.State)
	fmt.Fprintf(w, "  platform: %s\n", st.Platform)
	if st.State == servicectl.StateNotInstalled {
		return
	}
	if st.Enabled != "" {
		fmt.Fprintf(w, "  unit:     %s (%s)\n", st.Unit, st.Enabled)
	} else {
		fmt.Fprintf(w, "  unit:     %s\n", st.Unit)
	}
	if st.PID > 0 {
		fmt.Fprintf(w, "  pid:      %d\n", st.PID)
	}
	if st.Platform == "linux-systemd" {
		fmt.Fprintf(w, "  restarts: %d\n", st.Restarts)
	}
	if st.Text != "" {
		fmt.Fprintf(w, "  status:   %s\n", st.Text)
	}
}

// Import summarises a catalog import done where.
func Import(w io.Writer, r store.ImportResult, where string) {
	fmt.Fprintf(w, "imported %s %s: %d created, %d updated, %d unchanged, %d deleted; stock set for %d",
		Plural(r.Rows, "row"), where, r.Created, r.Updated, r.Unchanged, r.Deleted, r.StockSet)
	if r.StockKept > 0 {
		fmt.Fprintf(w, ", kept the store's own for %d (--set-stock overwrites it)", r.StockKept)
	}
	fmt.Fprintln(w)
}

// Doctor writes the checks, one line each or as JSON, and counts the
// failures and warnings.
func Doctor(w io.Writer, results []doctor.Result, asJSON bool) (fails, warns int, err error) {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(results); err != nil {
			return 0, 0, err
		}
	} else {
		for _, r := range results {
			// Details quote the cloud, discovery answers and devices.
			fmt.Fprintln(w, termtext.Safe(r.String()))
		}
	}
	for _, r := range results {
		switch r.Level {
		case doctor.Fail:
			fails++
		case doctor.Warn:
			warns++
		}
	}
	return fails, warns, nil
}

// Bytes is a size for people: "812 B", "4.2 MB", "1.3 GB" (powers of 1000).
func Bytes(n int64) string {
	switch {
	case n < 1000:
		return fmt.Sprintf("%d B", n)
	case n < 1000*1000:
		return fmt.Sprintf("%.1f kB", float64(n)/1e3)
	case n < 1000*1000*1000:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	default:
		return fmt.Sprintf("%.2f GB", float64(n)/1e9)
	}
}
