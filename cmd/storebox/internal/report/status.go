// Package report renders the daemon's status and sync reports for a person
// at a terminal: aligned tables, local times, money and weights in units.
package report

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/storebox/storebox/daemon/httpapi"
	"github.com/storebox/storebox/internal/termtext"
)

// Status writes the snapshot for a person at a terminal.
func Status(w io.Writer, s *httpapi.StatusSnapshot, limit int, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	p := func(format string, args ...any) { fmt.Fprintf(tw, format, args...) }
	ready := "ready"
	if !s.Ready {
		ready = "NOT READY (starting or stopping)"
	}
	p("Store\t%s (%s)\n", termtext.Safe(s.StoreName), termtext.Safe(s.StoreID))
	p("Version\t%s, up %s, %s\n", termtext.Safe(s.Version), duration(time.Duration(s.UptimeS)*time.Second), ready)
	if s.TestMode {
		p("TEST MODE\tpayments move no money\n")
	}
	// One count per kind, the page's: devices online whatever way they are
	// connected (an MQTT door or a serial scale has no device session).
	online := s.DevicesOnline
	if online == nil {
		online = s.Sessions
	}
	kinds := []string{"terminal", "scale", "label", "door"}
	for k := range online {
		if !slices.Contains(kinds, k) {
			kinds = append(kinds, k)
		}
	}
	var parts []string
	for _, k := range kinds {
		parts = append(parts, fmt.Sprintf("%s %d", k+"s", online[k]))
	}
	total := 0
	for _, n := range s.Sessions {
		total += n
	}
	p("Devices\tonline: %s; %d connections; %d goods\n", strings.Join(parts, ", "), s.Conns, s.Goods)
	q := s.Queue
	cloud := "not configured (events wait in the queue)"
	if q.Upstream {
		switch {
		case q.Online:
			cloud = "online"
		case q.SignatureRejected:
			cloud = "REFUSED: the cloud rejected the signature; check upstream.secret and the clock"
		case q.LastSuccess == nil:
			cloud = "not reached yet"
		default:
			cloud = "OFFLINE"
		}
	}
	p("Upstream\t%s\n", cloud)
	p("Config\t%s\n", configLine(s.Config, now))
	if rf := s.Config.Refused; rf != nil {
		p("Refused\tremote version %s at %s: %s\n", Dash(rf.Version), Time(rf.At, now), termtext.Safe(rf.Reason))
	}
	oldest := "-"
	if q.Depth > 0 {
		oldest = duration(time.Duration(q.OldestAgeS * float64(time.Second)))
	}
	p("Queue\t%s unsent, oldest %s, %d dead letters, last seq %d\n", Plural(q.Depth, "event"), oldest, q.DeadLetters, q.LastSeq)
	p("Last sync\t%s\n", Time(orZero(q.LastSuccess), now))
	if q.LastError != nil {
		p("Last error\t%s: %s\n", Time(orZero(q.LastErrorAt), now), termtext.Safe(*q.LastError))
	}
	if len(s.Orders.Counts) > 0 {
		keys := make([]string, 0, len(s.Orders.Counts))
		for k := range s.Orders.Counts {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts = parts[:0]
		for _, k := range keys {
			parts = append(parts, fmt.Sprintf("%s %d", k, s.Orders.Counts[k]))
		}
		p("Orders\t%s\n", strings.Join(parts, ", "))
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	if len(s.Pending) > 0 {
		fmt.Fprintf(w, "\nPending approval (%d): approve with `storebox devices approve ID` or on the status page\n", max(s.PendingTotal, len(s.Pending)))
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  EQUIP ID\tKIND\tNAME\tADDR\tFIRST SEEN")
		for _, d := range s.Pending {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", Dash(d.EquipID), Dash(d.Kind), Dash(d.Name), Dash(d.Addr), Time(d.FirstSeen, now))
		}
		tw.Flush()
		if more := s.PendingTotal - len(s.Pending); more > 0 {
			fmt.Fprintf(w, "  … and %d more (storebox devices lists them all)\n", more)
		}
	}
	section(w, "Scales", rows(s.Scales), []string{"id", "state", "weight_g", "stable", "at", "protocol", "port", "error"}, 0, now)
	if len(s.Printers) > 0 {
		fmt.Fprintf(w, "\nPrinters\n")
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  ID\tSTATE\tQUEUED\tLAST PRINTED\tERROR")
		for _, pr := range s.Printers {
			state := pr.State
			if pr.Fault {
				state += " (FAULT)"
			}
			last := "never"
			if !pr.LastPrinted.IsZero() {
				last = Time(pr.LastPrinted, now)
			}
			fmt.Fprintf(tw, "  %s\t%s\t%d\t%s\t%s\n", termtext.Safe(pr.ID), state, pr.Queued, last, Dash(termtext.Safe(pr.Error)))
		}
		tw.Flush()
	}
	section(w, "Doors", rows(s.Doors), []string{"id", "policy", "state", "online", "lastSeen", "last_seen", "stateAt", "lastOpen", "error"}, 0, now)
	orderCols := []string{"oid", "status", "amount_total", "method", "created_at", "equipId", "reason"}
	section(w, "NEEDS REVIEW", rows(s.Orders.NeedsReview), orderCols, 0, now)
	section(w, "Recent orders", rows(s.Orders.Recent), orderCols, limit, now)

	if total > 0 || len(s.Online) > 0 {
		n := len(s.Online)
		fmt.Fprintf(w, "\nOnline sessions (%d)", max(total, n))
		if limit > 0 && n > limit {
			fmt.Fprintf(w, ", first %d; --limit 0 or `storebox devices` lists all", limit)
			n = limit
		}
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  EQUIP ID\tKIND\tADDR\tFRAMING\tCHARSET\tSINCE")
		for _, o := range s.Online[:n] {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\n", Dash(o.EquipID), Dash(o.Kind), Dash(o.Addr), Dash(o.Framing), Dash(o.Charset), Time(o.Since, now))
		}
		tw.Flush()
	}
	return nil
}

// rows turns a section's generic JSON values into objects.
func rows(xs []any) []map[string]any {
	var out []map[string]any
	for _, x := range xs {
		if m, ok := x.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

// section prints rows with the preferred columns first, then any other
// scalar members, so sections that grow fields still show them.
func section(w io.Writer, title string, rows []map[string]any, preferred []string, limit int, now time.Time) {
	if len(rows) == 0 {
		return
	}
	var cols []string
	for _, k := range preferred {
		for _, r := range rows {
			if _, ok := r[k]; ok {
				cols = append(cols, k)
				break
			}
		}
	}
	var extra []string
	for _, r := range rows {
		for k, v := range r {
			if slices.Contains(cols, k) || slices.Contains(extra, k) {
				continue
			}
			switch v.(type) {
			case map[string]any, []any:
				continue
			}
			extra = append(extra, k)
		}
	}
	sort.Strings(extra)
	cols = append(cols, extra...)
	if len(cols) > 9 {
		cols = cols[:9]
	}
	shown := rows
	head := fmt.Sprintf("%s (%d)", title, len(rows))
	if limit > 0 && len(rows) > limit {
		shown = rows[:limit]
		head += fmt.Sprintf(", first %d", limit)
	}
	fmt.Fprintf(w, "\n%s\n", head)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for i, c := range cols {
		if i == 0 {
			fmt.Fprint(tw, "  ")
		} else {
			fmt.Fprint(tw, "\t")
		}
		fmt.Fprint(tw, termtext.Safe(header(c)))
	}
	fmt.Fprintln(tw)
	for _, r := range shown {
		for i, c := range cols {
			if i == 0 {
				fmt.Fprint(tw, "  ")
			} else {
				fmt.Fprint(tw, "\t")
			}
			fmt.Fprint(tw, termtext.Safe(value(c, r[c], now)))
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
}

// headers name columns the way the status page does, so the two never
// disagree; other keys are split into words (lastSeen and last_seen both
// read LAST SEEN).
var headers = map[string]string{
	"lastSeen": "LAST SEEN", "stateAt": "STATE SINCE", "lastOpen": "LAST OPEN", "created_at": "CREATED",
	"equipId": "TERMINAL", "amount_total": "TOTAL", "weight_g": "WEIGHT", "oid": "ORDER", "at": "READ AT",
}

// header is a column title for a member name.
func header(key string) string {
	if h, ok := headers[key]; ok {
		return h
	}
	var b strings.Builder
	for i, r := range key {
		switch {
		case r == '_':
			b.WriteRune(' ')
			continue
		case i > 0 && unicode.IsUpper(r):
			b.WriteRune(' ')
		}
		b.WriteRune(unicode.ToUpper(r))
	}
	return b.String()
}

// value formats one member by its name: money in minor units with two
// decimals, grams with a unit, RFC 3339 times in local time.
func value(key string, v any, now time.Time) string {
	switch key {
	case "amount_total", "amount":
		if f, ok := v.(float64); ok {
			return money(int64(f))
		}
	case "weight_g":
		if f, ok := v.(float64); ok {
			return fmt.Sprintf("%d g", int64(f))
		}
	case "lastOpen":
		if m, ok := v.(map[string]any); ok {
			out, _ := m["outcome"].(string)
			if out == "" {
				return "-"
			}
			if r, _ := m["reason"].(string); r != "" {
				out += " (" + r + ")"
			}
			if e, _ := m["error"].(string); e != "" {
				out += ": " + e
			}
			if at, _ := m["at"].(string); at != "" {
				out += " " + value("at", at, now)
			}
			return out
		}
	case "stable", "online":
		if b, ok := v.(bool); ok {
			if b {
				return "yes"
			}
			return "no"
		}
	}
	switch x := v.(type) {
	case nil:
		return "-"
	case string:
		if x == "" {
			return "-"
		}
		if t, err := time.Parse(time.RFC3339Nano, x); err == nil && len(x) >= 20 {
			return Time(t, now)
		}
		return x
	case float64:
		return fmt.Sprint(int64(x))
	}
	return fmt.Sprint(v)
}

// money shows minor units with two decimals, without floats.
func money(v int64) string {
	sign := ""
	if v < 0 {
		sign, v = "-", -v
	}
	return fmt.Sprintf("%s%d.%02d", sign, v/100, v%100)
}

// orZero is an API time that may be null, as the zero time.
func orZero(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

// Time is t for a person: the time of day for today, else date and time.
func Time(t time.Time, now time.Time) string {
	if t.IsZero() {
		return "never"
	}
	lt := t.Local()
	if y, m, d := lt.Date(); y == now.Local().Year() && m == now.Local().Month() && d == now.Local().Day() {
		return lt.Format(time.TimeOnly)
	}
	return lt.Format(time.DateTime)
}

func duration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := int64(d / time.Second)
	switch {
	case s >= 86400:
		return fmt.Sprintf("%dd%dh", s/86400, s%86400/3600)
	case s >= 3600:
		return fmt.Sprintf("%dh%dm", s/3600, s%3600/60)
	case s >= 60:
		return fmt.Sprintf("%dm%ds", s/60, s%60)
	}
	return fmt.Sprintf("%ds", s)
}

// Dash is a table cell: an empty string as "-", and text from devices or
// the cloud with its control characters escaped (termtext).
func Dash(s string) string {
	if s == "" {
		return "-"
	}
	return termtext.Safe(s)
}

// configLine says where the running configuration came from (UPSTREAM.md §7).
func configLine(c httpapi.ConfigStatus, now time.Time) string {
	switch {
	case c.Source == "remote":
		return fmt.Sprintf("remote version %d, applied %s (over the local file)", c.Version, Time(c.AppliedAt, now))
	case c.RemoteEnabled:
		return "local file, loaded " + Time(c.AppliedAt, now) + " (no remote configuration applied)"
	default:
		return "local file, loaded " + Time(c.AppliedAt, now)
	}
}
