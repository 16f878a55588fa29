// Package printing turns paid orders into receipts on ESC/POS printers
// (PROTOCOL.md §7.2). A paid order for a printer's terminal becomes a job
// in the same bbolt transaction as the payment (orders.PaidHook); each
// printer has an ordered queue in the store file and one worker that asks
// the printer's status before each job and every 30 s, sends the job's
// bytes whole, waits for the printer to answer a status query sent after
// them (so it has taken every byte), and only then deletes the job. A job
// cut off anywhere before that is sent again from its first byte; a job
// the printer acknowledged is never sent again — except when the daemon
// dies in the millisecond between the acknowledgement and the delete's
// commit, where the receipt prints twice rather than not at all.
package printing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"go.etcd.io/bbolt"

	"github.com/storebox/storebox/daemon/store"
	"github.com/storebox/storebox/drivers/printer"
	"github.com/storebox/storebox/protocol/ordermsg"
	"github.com/storebox/storebox/protocol/receipt"
)

// Printer is one configured printer.
type Printer struct {
	ID        string
	Connect   string
	Terminals []string // equipIds; "*" is every terminal
	Codepage  string
	Width     int // 0: the receipt layout's
	Cut       bool
	Drawer    string // "cash" or ""
}

func (p Printer) serves(equipID string) bool {
	return slices.Contains(p.Terminals, "*") || slices.Contains(p.Terminals, equipID)
}

// Config configures the printing service.
type Config struct {
	Printers  []Printer
	StoreID   string
	StoreName string
	Layout    receipt.Layout
	QR        bool // a QR code of the order id under each receipt
	// StatusEvery is how often an idle printer is asked for its status
	// (30s); FaultAfter how long a printer may not answer before it is a
	// fault (10s).
	StatusEvery time.Duration
	// Recheck is how often an idle printer in trouble (unreachable, out of
	// paper, cover open…) is asked again, so a fault is raised after
	// FaultAfter and cleared soon after the paper is in (5s).
	Recheck    time.Duration
	FaultAfter time.Duration
	Timeouts   printer.Timeouts
	Now        func() time.Time
}

// State is a printer's condition for the status page, health and metrics.
type State struct {
	ID          string    `json:"id"`
	Connect     string    `json:"connect"`
	State       string    `json:"state"`
	Queued      int       `json:"queued"`
	Error       string    `json:"error,omitempty"`
	Fault       bool      `json:"fault"`
	Since       time.Time `json:"since"`
	LastPrinted time.Time `json:"last_printed,omitzero"`
	Printed     int64     `json:"printed"`
}

// Service owns the print queues and runs a worker per printer.
type Service struct {
	cfg     Config
	st      *store.Store
	log     *slog.Logger
	workers map[string]*worker
	order   []string
	// printed, if set, hears of every job the printer acknowledged (tests,
	// the bench).
	printed func(printerID string, j *Job)
}

// OnPrinted registers f to hear of every acknowledged job; call it before
// Serve.
func (s *Service) OnPrinted(f func(printerID string, j *Job)) { s.printed = f }

// New opens the print queues in st.
func New(cfg Config, st *store.Store, log *slog.Logger) (*Service, error) {
	if cfg.StatusEvery <= 0 {
		cfg.StatusEvery = 30 * time.Second
	}
	if cfg.Recheck <= 0 {
		cfg.Recheck = 5 * time.Second
	}
	if cfg.FaultAfter <= 0 {
		cfg.FaultAfter = 10 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	for _, p := range cfg.Printers {
		if _, err := printer.Encoding(p.Codepage); err != nil {
			return nil, fmt.Errorf("printer %s: %w", p.ID, err)
		}
	}
	if err := initBuckets(st); err != nil {
		return nil, fmt.Errorf("open print queues: %w", err)
	}
	s := &Service{cfg: cfg, st: st, log: log, workers: map[string]*worker{}}
	err := st.View(func(tx *bbolt.Tx) error {
		for _, p := range cfg.Printers {
			w := &worker{s: s, p: p, kick: make(chan struct{}, 1), log: log.With("printer", p.ID)}
			w.state = State{ID: p.ID, Connect: p.Connect, State: "starting", Since: cfg.Now().UTC(), Queued: count(tx, p.ID)}
			s.workers[p.ID] = w
			s.order = append(s.order, p.ID)
		}
		return nil
	})
	return s, err
}

// Serve runs every printer's worker until ctx ends.
func (s *Service) Serve(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, id := range s.order {
		w := s.workers[id]
		wg.Add(1)
		go func() { defer wg.Done(); w.run(ctx) }()
	}
	wg.Wait()
	return nil
}

// OnPaid is the orders' paid hook: in the payment's transaction, a job for
// every printer that serves the order's terminal.
func (s *Service) OnPaid(t *store.Tx, o *ordermsg.Order) error {
	for _, id := range s.order {
		w := s.workers[id]
		if !w.p.serves(o.EquipID) {
			continue
		}
		r := receipt.FromOrder(o, s.cfg.StoreID, s.cfg.StoreName)
		drawer := w.p.Drawer == "cash" && o.Method == ordermsg.MethodCash
		if err := s.add(t, w, KindReceipt, o.OID, s.doc(w.p, r, false, drawer)); err != nil {
			return err
		}
	}
	return nil
}

// PruneOrder drops the jobs of an order the retention removes.
func (s *Service) PruneOrder(t *store.Tx, oid string) error {
	if err := pruneOrder(t, oid); err != nil {
		return err
	}
	t.After(s.recount)
	return nil
}

func (s *Service) doc(p Printer, r receipt.Receipt, copy, drawer bool) printer.Doc {
	l := s.cfg.Layout
	if p.Width > 0 {
		l.Width = p.Width
	}
	l.Copy = copy
	l.Measure, _ = printer.Columns(p.Codepage) // the code page was checked in New
	d := printer.Doc{Lines: receipt.PrintList(r, l), Cut: p.Cut, Drawer: drawer}
	if s.cfg.QR {
		d.QR = r.OID
	}
	return d
}

func (s *Service) add(t *store.Tx, w *worker, kind, oid string, d printer.Doc) error {
	data, err := printer.Encode(d, w.p.Codepage)
	if err != nil {
		return fmt.Errorf("printer %s: %w", w.p.ID, err)
	}
	j := &Job{Printer: w.p.ID, OID: oid, Kind: kind, At: s.cfg.Now().UTC(), Data: data}
	if err := put(t.Tx, j); err != nil {
		return err
	}
	t.After(func() { w.queued(1) })
	return nil
}

// Errors a caller tells apart.
var (
	ErrUnknownPrinter = errors.New("no such printer")
	ErrNoPrinter      = errors.New("no printer serves this terminal")
	ErrNoReceipt      = errors.New("no paid order")
)

func (s *Service) worker(id string) (*worker, error) {
	w := s.workers[id]
	if w == nil {
		return nil, fmt.Errorf("%w %q (configured: %v)", ErrUnknownPrinter, id, s.order)
	}
	return w, nil
}

// Reprint queues a copy of receipt r (marked COPY, no drawer kick) on
// printer id, or on every printer serving equipID when id is "".
func (s *Service) Reprint(id, equipID string, r receipt.Receipt) ([]string, error) {
	var ws []*worker
	if id != "" {
		w, err := s.worker(id)
		if err != nil {
			return nil, err
		}
		ws = append(ws, w)
	} else {
		for _, pid := range s.order {
			if s.workers[pid].p.serves(equipID) {
				ws = append(ws, s.workers[pid])
			}
		}
		if len(ws) == 0 {
			return nil, fmt.Errorf("%w %s; name a printer", ErrNoPrinter, equipID)
		}
	}
	var ids []string
	err := s.st.Update(func(t *store.Tx) error {
		ids = ids[:0]
		for _, w := range ws {
			if err := s.add(t, w, KindCopy, r.OID, s.doc(w.p, r, true, false)); err != nil {
				return err
			}
			ids = append(ids, w.p.ID)
		}
		return nil
	})
	return ids, err
}

// TestPage queues a test page on printer id.
func (s *Service) TestPage(id string) error {
	w, err := s.worker(id)
	if err != nil {
		return err
	}
	width := s.cfg.Layout.Width
	if w.p.Width > 0 {
		width = w.p.Width
	}
	if width == 0 {
		width = receipt.DefaultWidth
	}
	now := s.cfg.Now()
	lines := []string{"*** TEST PAGE ***", "", "printer " + w.p.ID, w.p.Connect, "code page " + codepageName(w.p.Codepage),
		fmt.Sprintf("%d columns:", width), ruler(width), "中文 繁體 ÄÖÜ éè ñ", now.Format("2006-01-02 15:04:05 MST")}
	measure, _ := printer.Columns(w.p.Codepage)
	var wrapped []string
	for _, l := range lines {
		if l == "" {
			wrapped = append(wrapped, "")
			continue
		}
		wrapped = append(wrapped, receipt.WrapMeasured(l, width, measure)...)
	}
	d := printer.Doc{Lines: wrapped, Cut: w.p.Cut}
	if s.cfg.QR {
		d.QR = "test " + w.p.ID
	}
	return s.st.Update(func(t *store.Tx) error { return s.add(t, w, KindTest, "", d) })
}

func codepageName(cp string) string {
	if cp == "" {
		return printer.DefaultCodepage
	}
	return cp
}

// ruler is "1234567890" repeated to width columns.
func ruler(width int) string {
	b := make([]byte, width)
	for i := range b {
		b[i] = byte('0' + (i+1)%10)
	}
	return string(b)
}

// States returns every printer's state, in configuration order.
func (s *Service) States() []State {
	out := make([]State, 0, len(s.order))
	for _, id := range s.order {
		out = append(out, s.workers[id].snapshot())
	}
	return out
}

// CheckNow asks printer id for its status at once (doctor).
func CheckNow(ctx context.Context, connect string, to printer.Timeouts) (printer.Status, error) {
	l, err := printer.Open(ctx, connect, to)
	if err != nil {
		return printer.Status{}, err
	}
	defer l.Close()
	return printer.ReadStatus(l)
}

// recount reloads the queue depths from the store (after a prune).
func (s *Service) recount() {
	_ = s.st.View(func(tx *bbolt.Tx) error {
		for _, id := range s.order {
			w := s.workers[id]
			n := count(tx, id)
			w.mu.Lock()
			w.state.Queued = n
			w.mu.Unlock()
		}
		return nil
	})
}
