package printersim

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"golang.org/x/text/encoding"

	"github.com/storebox/storebox/drivers/printer"
)

// Sim is a network receipt printer (port 9100 style): one connection at a
// time prints, like the real thing.
type Sim struct {
	enc encoding.Encoding
	// OnReceipt, if set, is called with every receipt as it comes out.
	OnReceipt func(Receipt)
	// OnDrawer, if set, is called for a drawer kick that follows a cut
	// (the receipt was already handed to OnReceipt).
	OnDrawer func()

	mu       sync.Mutex
	status   printer.Status
	silent   bool
	cutAfter int // close the next connection after this many bytes (0: never)
	pace     int // bytes per second the printer takes (0: as fast as they come)
	receipts []Receipt
	conns    int
	bytes    int64
	dropped  int
	changed  chan struct{}
	ln       net.Listener
}

// New is a printer reading text in enc (the code page it is set to).
func New(enc encoding.Encoding) *Sim {
	return &Sim{enc: enc, changed: make(chan struct{})}
}

// Listen binds addr ("127.0.0.1:0" in tests).
func (s *Sim) Listen(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	s.ln = ln
	return nil
}

// Addr is the bound address.
func (s *Sim) Addr() string { return s.ln.Addr().String() }

// Serve accepts connections until ctx ends.
func (s *Sim) Serve(ctx context.Context) error {
	go func() { <-ctx.Done(); s.ln.Close() }()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			stop := context.AfterFunc(ctx, func() { c.Close() })
			defer stop()
			s.ServeConn(c)
		}()
	}
}

// ServeConn prints what arrives on rw until it closes (a pty for a serial
// printer, a TCP connection).
func (s *Sim) ServeConn(rw io.ReadWriteCloser) {
	defer rw.Close()
	s.mu.Lock()
	s.conns++
	s.mu.Unlock()
	p := NewParser(s.enc)
	buf := make([]byte, 4096)
	var read int
	for {
		s.mu.Lock()
		pace := s.pace
		s.mu.Unlock()
		chunk := buf
		if pace > 0 {
			chunk = buf[:min(len(buf), max(pace/20, 1))]
		}
		n, err := rw.Read(chunk)
		if pace > 0 && n > 0 {
			time.Sleep(time.Duration(n) * time.Second / time.Duration(pace))
		}
		s.mu.Lock()
		if limit := s.cutAfter; limit > 0 && read+n >= limit {
			// the link breaks mid-job: what came so far is on paper
			n, err = limit-read, io.ErrUnexpectedEOF
			s.cutAfter = 0
		}
		s.mu.Unlock()
		read += n
		if n > 0 {
			s.mu.Lock()
			s.bytes += int64(n)
			p.Paper = !s.status.PaperEnd
			s.mu.Unlock()
			for _, ev := range p.Feed(buf[:n]) {
				if ev.Query != 0 {
					if b, ok := s.answer(ev.Query); ok {
						if _, err := rw.Write([]byte{b}); err != nil {
							return
						}
					}
				}
				if ev.Receipt != nil {
					s.add(*ev.Receipt)
				}
				if ev.Drawer {
					s.kick()
				}
			}
			s.mu.Lock()
			s.dropped += p.Dropped
			p.Dropped = 0
			s.mu.Unlock()
		}
		if err != nil {
			if r := p.Close(); r != nil && p.Paper {
				s.add(*r)
			}
			return
		}
	}
}

func (s *Sim) answer(n byte) (byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.silent {
		return 0, false
	}
	a, b, c := printer.StatusBytes(s.status)
	switch n {
	case 1:
		return a, true
	case 2:
		return b, true
	case 4:
		return c, true
	}
	return 0, false
}

func (s *Sim) add(r Receipt) {
	s.mu.Lock()
	s.receipts = append(s.receipts, r)
	s.notify()
	f := s.OnReceipt
	s.mu.Unlock()
	if f != nil {
		f(r)
	}
}

func (s *Sim) kick() {
	s.mu.Lock()
	if n := len(s.receipts); n > 0 {
		s.receipts[n-1].Drawer = true
	}
	s.notify()
	f := s.OnDrawer
	s.mu.Unlock()
	if f != nil {
		f()
	}
}

// notify wakes Wait callers; s.mu held.
func (s *Sim) notify() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// SetPaper loads (true) or runs out of (false) paper.
func (s *Sim) SetPaper(ok bool) {
	s.mu.Lock()
	s.status.PaperEnd = !ok
	s.notify()
	s.mu.Unlock()
}

// SetPace makes the printer take bytesPerSec bytes a second, like a slow
// serial printer (0: as fast as they come).
func (s *Sim) SetPace(bytesPerSec int) {
	s.mu.Lock()
	s.pace = bytesPerSec
	s.mu.Unlock()
}

// CutAfter makes the first connection that reaches n bytes break there, as
// a cable pulled mid-job.
func (s *Sim) CutAfter(n int) {
	s.mu.Lock()
	s.cutAfter = n
	s.mu.Unlock()
}

// SetCoverOpen opens or closes the cover.
func (s *Sim) SetCoverOpen(open bool) {
	s.mu.Lock()
	s.status.CoverOpen = open
	s.mu.Unlock()
}

// SetSilent stops (true) or resumes answering status queries.
func (s *Sim) SetSilent(v bool) {
	s.mu.Lock()
	s.silent = v
	s.mu.Unlock()
}

// Status is the printer's condition.
func (s *Sim) Status() printer.Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.status
}

// Receipts returns every receipt printed so far.
func (s *Sim) Receipts() []Receipt {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Receipt(nil), s.receipts...)
}

// Stats are the simulator's counters: connections accepted, bytes read,
// text bytes lost for lack of paper.
func (s *Sim) Stats() (conns int, bytes int64, dropped int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns, s.bytes, s.dropped
}

// WaitReceipts waits until at least n receipts came out or ctx ends.
func (s *Sim) WaitReceipts(ctx context.Context, n int) ([]Receipt, error) {
	for {
		s.mu.Lock()
		got, ch := len(s.receipts), s.changed
		s.mu.Unlock()
		if got >= n {
			return s.Receipts(), nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return s.Receipts(), errors.New("printer sim: " + ctx.Err().Error())
		}
	}
}
