// Package catalogfeed pulls the cloud's catalog feed (UPSTREAM.md §4) into the
// local store: every Interval, at start, and whenever Kick is called (the
// daemon kicks it when the upstream connection comes back). It pages with
// since=<cursor> until more=false; each page and its cursor are applied in one
// transaction by the Applier, so a crash between pages resumes from the last
// applied page.
//
// Invalid items in a page (no gid, bad unit, ...) are skipped with a warning
// rather than stalling the feed forever on one bad row; the rest of the page
// is applied. A failed pull is retried with backoff (capped at Interval).
package catalogfeed

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/storebox/storebox/internal/backoff"
	"github.com/storebox/storebox/protocol/goods"
	"github.com/storebox/storebox/sync/upstream"
)

// Applier is the local catalog (daemon/store implements it).
type Applier interface {
	CatalogCursor() (string, error)
	// ApplyCatalogPage applies items/deleted and stores cursor in ONE transaction; feed items' stock is ignored.
	ApplyCatalogPage(cursor string, items []goods.Goods, deleted []string) (changed []goods.Goods, err error)
}

// Source is where pages come from (*upstream.Client).
type Source interface {
	Catalog(ctx context.Context, since string, limit int) (upstream.Page, error)
}

// Defaults.
const (
	DefaultInterval = 60 * time.Second
	DefaultPageSize = 200
	minRetry        = time.Second
)

// Feed keeps the local catalog in step with the cloud.
type Feed struct {
	Source   Source
	Store    Applier
	Interval time.Duration // 0 = DefaultInterval
	PageSize int           // 0 = DefaultPageSize
	// OnChanged receives the goods a page changed (e.g. to push goodsUpdate
	// to e-labels). Called from the Serve goroutine after the page is applied.
	OnChanged func([]goods.Goods)
	Logger    *slog.Logger

	kickOnce sync.Once
	kick     chan struct{}

	mu sync.Mutex
	st State
}

// State is the feed's status for the status page.
type State struct {
	Cursor    string    `json:"cursor"`
	LastPull  time.Time `json:"last_pull,omitzero"` // last complete pull
	LastError string    `json:"last_error,omitempty"`
	ErrorAt   time.Time `json:"last_error_at,omitzero"`
	Applied   uint64    `json:"applied"` // items + deletions applied since start
	Skipped   uint64    `json:"skipped"` // invalid items skipped
}

func (f *Feed) kickCh() chan struct{} {
	f.kickOnce.Do(func() { f.kick = make(chan struct{}, 1) })
	return f.kick
}

// Kick asks for a pull now (non-blocking).
func (f *Feed) Kick() {
	select {
	case f.kickCh() <- struct{}{}:
	default:
	}
}

// Status returns a snapshot.
func (f *Feed) Status() State {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.st
}

func (f *Feed) logger() *slog.Logger {
	if f.Logger != nil {
		return f.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// Serve pulls until ctx is cancelled.
func (f *Feed) Serve(ctx context.Context) error {
	interval := f.Interval
	if interval <= 0 {
		interval = DefaultInterval
	}
	kick := f.kickCh()
	failures := 0
	for {
		wait := interval
		if _, err := f.Pull(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			failures++
			// Jittered, and never sooner than half minRetry.
			retry := backoff.Policy{Min: minRetry, Max: minRetry << 16, Jitter: true}
			wait = min(interval, retry.Delay(failures-1)+minRetry/2)
			f.logger().Warn("catalog pull failed", "err", err, "retry_in", wait.Round(time.Millisecond))
		} else {
			failures = 0
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		case <-kick:
			t.Stop()
		}
	}
}

// Pull fetches and applies pages until the feed says there is no more. It
// returns how many items and deletions were applied.
func (f *Feed) Pull(ctx context.Context) (int, error) {
	size := f.PageSize
	if size <= 0 {
		size = DefaultPageSize
	}
	cursor, err := f.Store.CatalogCursor()
	if err != nil {
		return 0, f.fail(fmt.Errorf("read catalog cursor: %w", err))
	}
	total := 0
	for {
		p, err := f.Source.Catalog(ctx, cursor, size)
		if err != nil {
			return total, f.fail(err)
		}
		items := p.Items[:0:0]
		for _, g := range p.Items {
			if err := g.Validate(); err != nil {
				f.logger().Warn("catalog feed: skipping invalid item", "gid", g.GID, "err", err)
				f.mu.Lock()
				f.st.Skipped++
				f.mu.Unlock()
				continue
			}
			items = append(items, g)
		}
		changed, err := f.Store.ApplyCatalogPage(p.Cursor, items, p.Deleted)
		if err != nil {
			return total, f.fail(fmt.Errorf("apply catalog page at cursor %q: %w", p.Cursor, err))
		}
		total += len(items) + len(p.Deleted)
		cursor = p.Cursor
		f.mu.Lock()
		f.st.Cursor = cursor
		f.st.Applied += uint64(len(items) + len(p.Deleted))
		f.mu.Unlock()
		if len(changed) > 0 && f.OnChanged != nil {
			f.OnChanged(changed)
		}
		if !p.More {
			break
		}
		if ctx.Err() != nil {
			return total, ctx.Err()
		}
	}
	f.mu.Lock()
	f.st.LastPull = time.Now()
	f.st.LastError = ""
	f.mu.Unlock()
	return total, nil
}

func (f *Feed) fail(err error) error {
	if errors.Is(err, context.Canceled) {
		return err
	}
	f.mu.Lock()
	f.st.LastError = err.Error()
	f.st.ErrorAt = time.Now()
	f.mu.Unlock()
	return err
}
