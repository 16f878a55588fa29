// Package drain sends the upstream queue now, through the running daemon
// or straight from the data directory, and shows the progress.
package drain

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/storebox/storebox/cmd/storebox/internal/localapi"
	"github.com/storebox/storebox/cmd/storebox/internal/report"
	"github.com/storebox/storebox/daemon"
	"github.com/storebox/storebox/daemon/config"
	"github.com/storebox/storebox/daemon/store"
	"github.com/storebox/storebox/sync/uploader"
	"github.com/storebox/storebox/sync/upstream"
)

// ViaDaemon asks the running daemon to drain its queue and follows the
// progress it streams.
func ViaDaemon(ctx context.Context, api *localapi.Client, p *Progress) error {
	resp, err := api.Post(ctx, "/api/v1/sync/now")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
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
		return fmt.Errorf("sync failed with %s left: %s", report.Plural(last.Remaining, "event"), last.Error)
	}
	p.done(last.Sent)
	return nil
}

// Direct drains the queue from the data directory while the daemon is
// stopped.
func Direct(ctx context.Context, cfg *config.Config, p *Progress) error {
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
		return fmt.Errorf("sync failed with %s left: %w", report.Plural(rem, "event"), err)
	}
	p.done(sent)
	return nil
}

// Progress draws a bar on a terminal and plain lines otherwise.
type Progress struct {
	w     io.Writer
	bar   *progressbar.ProgressBar
	last  time.Time
	total int
}

// NewProgress reports to w.
func NewProgress(w io.Writer) *Progress {
	// Plain progress lines start after a second: a queue that drains at
	// once gets only the summary.
	p := &Progress{w: w, last: time.Now()}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.bar = progressbar.NewOptions(-1, progressbar.OptionSetWriter(w), progressbar.OptionSetDescription("sending"),
			progressbar.OptionShowCount(), progressbar.OptionSetItsString("events"), progressbar.OptionShowIts(), progressbar.OptionClearOnFinish())
	}
	return p
}

func (p *Progress) update(sent, remaining int) {
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

func (p *Progress) done(sent int) {
	p.Finish()
	fmt.Fprintf(p.w, "queue empty: %s sent\n", report.Plural(sent, "event"))
}

// Finish ends the bar, if any.
func (p *Progress) Finish() {
	if p.bar != nil {
		p.bar.Finish()
		p.bar = nil
	}
}
