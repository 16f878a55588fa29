package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/storebox/storebox/daemon"
	"github.com/storebox/storebox/daemon/config"
	"github.com/storebox/storebox/daemon/store"
	"github.com/storebox/storebox/sync/uploader"
	"github.com/storebox/storebox/sync/upstream"
)

func syncCommand(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "sync",
		Short: "upstream sync: queue status, drain the queue now",
	}
	c.AddCommand(syncStatusCommand(g), syncNowCommand(g))
	return c
}

// syncReport is GET /api/v1/sync (the same members with or without an
// upstream; unset times are null). Configured is nil from an uploader
// alone (sync now without a daemon), which has an upstream.
type syncReport struct {
	Configured  *bool     `json:"upstream_configured"`
	Online      bool      `json:"online"`
	Depth       int       `json:"depth"`
	OldestAgeS  float64   `json:"oldest_age_s"`
	LastSuccess time.Time `json:"last_success"`
	LastError   string    `json:"last_error"`
	LastErrorAt time.Time `json:"last_error_at"`
	SigRejected bool      `json:"signature_rejected"`
	DeadLetters int       `json:"dead_letters"`
	Sent        uint64    `json:"sent"`
	LastSeq     uint64    `json:"last_seq"`
	NextRetry   time.Time `json:"next_retry"`
}

func syncStatusCommand(g *globals) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "status",
		Short: "show the upstream queue: depth, age, last success and error, dead letters",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.loadConfig()
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			api := newLocalAPI(cfg)
			var rep syncReport
			running := api.reachable()
			if running {
				var raw json.RawMessage
				if err := api.do("GET", "/api/v1/sync", nil, &raw); err != nil {
					return err
				}
				if asJSON {
					fmt.Fprintln(out, string(raw))
					return nil
				}
				if err := json.Unmarshal(raw, &rep); err != nil {
					return fmt.Errorf("read /api/v1/sync: %w", err)
				}
			} else {
				st, err := store.Open(cfg.DataDir, store.Options{Warehouse: cfg.Warehouse})
				if err != nil {
					return fmt.Errorf("daemon not running and the data directory cannot be read: %w", err)
				}
				qs, err := st.Outbox().QueueStats()
				st.Close()
				if err != nil {
					return err
				}
				rep.Depth, rep.DeadLetters, rep.LastSeq = qs.Depth, qs.DeadLetters, qs.LastSeq
				if !qs.Oldest.IsZero() {
					rep.OldestAgeS = time.Since(qs.Oldest).Seconds()
				}
				if asJSON {
					return json.NewEncoder(out).Encode(rep)
				}
			}
			printSyncReport(out, cfg, rep, running)
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the daemon's JSON as is")
	return c
}

func printSyncReport(w io.Writer, cfg *config.Config, r syncReport, running bool) {
	upstreamDesc := "not configured (set upstream.url and upstream.secret)"
	switch {
	case cfg.Upstream.Kind == "nats" && cfg.Upstream.NATSURL != "":
		upstreamDesc = "nats " + cfg.Upstream.NATSURL
	case cfg.Upstream.URL != "":
		upstreamDesc = cfg.Upstream.URL
	}
	fmt.Fprintf(w, "upstream:      %s\n", upstreamDesc)
	switch {
	case !running:
		fmt.Fprintln(w, "daemon:        not running (figures read from the data directory)")
	case r.Configured != nil && !*r.Configured:
		fmt.Fprintln(w, "daemon:        running, upstream off")
	case r.Online:
		fmt.Fprintln(w, "connection:    online")
	case r.SigRejected:
		fmt.Fprintln(w, "connection:    REFUSED: the cloud rejected the signature; check upstream.secret and the clock")
	default:
		fmt.Fprintln(w, "connection:    OFFLINE")
	}
	fmt.Fprintf(w, "queue:         %s", plural(r.Depth, "event"))
	if r.Depth > 0 {
		fmt.Fprintf(w, ", oldest %s ago", (time.Duration(r.OldestAgeS) * time.Second).Round(time.Second))
	}
	fmt.Fprintf(w, " (last seq %d)\n", r.LastSeq)
	if running && (r.Configured == nil || *r.Configured) {
		fmt.Fprintf(w, "sent:          %s since start\n", plural(int(r.Sent), "event"))
		fmt.Fprintf(w, "last success:  %s\n", ago(r.LastSuccess))
		if r.LastError != "" {
			fmt.Fprintf(w, "last error:    %s (%s)\n", r.LastError, ago(r.LastErrorAt))
		}
		if !r.NextRetry.IsZero() && time.Until(r.NextRetry) > 0 {
			fmt.Fprintf(w, "next retry:    in %s\n", time.Until(r.NextRetry).Round(time.Second))
		}
	}
	fmt.Fprintf(w, "dead letters:  %d", r.DeadLetters)
	if r.DeadLetters > 0 {
		fmt.Fprint(w, " (refused by the cloud; see the status page)")
	}
	fmt.Fprintln(w)
}

func ago(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.Local().Format(time.DateTime) + ", " + time.Since(t).Round(time.Second).String() + " ago"
}

func syncNowCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "now",
		Short: "send every queued event upstream now; exits 0 once the queue is empty",
		Long: "Drains the upstream queue now, through the running daemon, or directly from the\n" +
			"data directory when the daemon is stopped. Exits non-zero with the reason when\n" +
			"the cloud cannot be reached or refuses the requests.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.loadConfig()
			if err != nil {
				return err
			}
			p := newSyncProgress(cmd.ErrOrStderr())
			defer p.finish()
			api := newLocalAPI(cfg)
			if api.reachable() {
				return syncNowViaDaemon(cmd.Context(), api, p)
			}
			return syncNowDirect(cmd.Context(), cfg, p)
		},
	}
}

func syncNowViaDaemon(ctx context.Context, api *localAPI, p *syncProgress) error {
	req, err := http.NewRequestWithContext(ctx, "POST", api.base+"/api/v1/sync/now", nil)
	if err != nil {
		return err
	}
	if api.token != "" {
		req.Header.Set("Authorization", "Bearer "+api.token)
	}
	resp, err := api.hc.Do(req)
	if err != nil {
		return fmt.Errorf("storebox daemon at %s: %w", api.base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(b, &e) == nil && e.Error != "" {
			return errors.New(e.Error)
		}
		return fmt.Errorf("POST /api/v1/sync/now: %s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	sc := bufio.NewScanner(resp.Body)
	var last uploader.Progress
	for sc.Scan() {
		if err := json.Unmarshal(sc.Bytes(), &last); err != nil {
			return fmt.Errorf("read progress %q: %w", sc.Text(), err)
		}
		p.update(last.Sent, last.Remaining)
		if last.Done {
			break
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read progress: %w", err)
	}
	if !last.Done {
		return errors.New("the daemon stopped answering before the queue was drained")
	}
	if last.Error != "" {
		return fmt.Errorf("sync failed with %s left: %s", plural(last.Remaining, "event"), last.Error)
	}
	p.done(last.Sent)
	return nil
}

func syncNowDirect(ctx context.Context, cfg *config.Config, p *syncProgress) error {
	if cfg.Upstream.Kind == "nats" {
		return errors.New("the daemon is not running; start it to sync to NATS (storebox run)")
	}
	if cfg.Upstream.URL == "" {
		return errors.New("no upstream configured (set upstream.url and upstream.secret)")
	}
	st, err := store.Open(cfg.DataDir, store.Options{Warehouse: cfg.Warehouse})
	if err != nil {
		return err
	}
	defer st.Close()
	c := upstream.New(cfg.Upstream.URL, cfg.StoreID, cfg.Upstream.Secret, cfg.Upstream.Timeout.Duration)
	u := uploader.New(daemon.OutboxQueue(st), uploader.HTTPSink(c), uploader.Config{StoreID: cfg.StoreID, BatchEvents: cfg.Upstream.BatchEvents})
	var sent, rem int
	err = u.DrainNow(ctx, func(s, r int) { sent, rem = s, r; p.update(s, r) })
	if err != nil {
		return fmt.Errorf("sync failed with %s left: %w", plural(rem, "event"), err)
	}
	p.done(sent)
	return nil
}

// syncProgress draws a bar on a terminal and plain lines otherwise.
type syncProgress struct {
	w     io.Writer
	bar   *progressbar.ProgressBar
	last  time.Time
	total int
}

func newSyncProgress(w io.Writer) *syncProgress {
	// Plain progress lines start after a second: a queue that drains at
	// once gets only the summary.
	p := &syncProgress{w: w, last: time.Now()}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.bar = progressbar.NewOptions(-1, progressbar.OptionSetWriter(w), progressbar.OptionSetDescription("sending"),
			progressbar.OptionShowCount(), progressbar.OptionSetItsString("events"), progressbar.OptionShowIts(), progressbar.OptionClearOnFinish())
	}
	return p
}

func (p *syncProgress) update(sent, remaining int) {
	if t := sent + remaining; t > p.total {
		p.total = t
	}
	if p.bar != nil {
		if p.bar.GetMax() != p.total {
			p.bar.ChangeMax(p.total)
		}
		p.bar.Set(sent)
		return
	}
	// The last line is done's summary; a "0 remaining" line before it
	// would say the same thing twice.
	if remaining > 0 && time.Since(p.last) >= time.Second {
		p.last = time.Now()
		fmt.Fprintf(p.w, "sent %d, %d remaining\n", sent, remaining)
	}
}

func (p *syncProgress) done(sent int) {
	p.finish()
	fmt.Fprintf(p.w, "queue empty: %s sent\n", plural(sent, "event"))
}

func (p *syncProgress) finish() {
	if p.bar != nil {
		p.bar.Finish()
		p.bar = nil
	}
}

// plural writes "1 event", "2 events".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
