// Package cloudref is the reference cloud of UPSTREAM.md §9: enough of the real
// thing to test and demo the daemon's upstream side against, over real HTTP.
//
// It verifies request signatures (401 for a forged, malformed or stale one),
// stores ledger events in an append-only JSON Lines file and dedupes them by
// id (duplicates are counted, never stored twice), serves a versioned catalog
// feed and keeps store-credit accounts with holds; it mounts the fleet
// console (sync/cloudref/fleetconsole) on the same server. Fault injection
// (failure rate, hangs, throttling, lost acknowledgements, a down period at
// start, rejected event types) lets tests drive the daemon through bad
// weather.
//
// Events are exactly once by id: a batch event whose id the cloud already
// holds is dropped (counted as a duplicate) and still acknowledged, whatever
// its seq — a box restored from a backup renumbers its unsent events above
// GET /v1/stores/<s>/events/last, and some of them may have reached the
// cloud from the old box. A new id whose seq is not above the store's last
// seq, or a seq held under another id, is a fault: it is stored (the sale
// happened) and reported in /stats.
//
// acked_through is the highest seq s such that the cloud holds (or just
// dropped as a duplicate) every event of the store from the batch's first
// seq up to s, extended through any contiguous seqs it already held. Seqs below the batch's first are not
// required: the daemon sends in seq order, so anything below was acknowledged
// earlier or dead-lettered on the daemon's side (and shows here as a gap in
// /stats).
package cloudref

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/storebox/storebox/protocol/ledger"
	"github.com/storebox/storebox/sync/cloudref/cloudkit"
	"github.com/storebox/storebox/sync/cloudref/fleetconsole"
)

// Options configure a Server. The zero value is a memory-only cloud that
// knows no secret (every request is refused) — set Secret.
type Options struct {
	DataDir      string            // "" keeps everything in memory
	Secret       string            // secret for any store not in StoreSecrets
	StoreSecrets map[string]string // per-store secrets
	CatalogFile  string            // JSON Lines or a JSON array of goods
	Credits      map[string]int64  // account token → balance, applied over saved state

	FailRate     float64       // fraction of /v1 requests answered 503 before doing anything
	HangRate     float64       // fraction accepted and never answered
	ThrottleRate float64       // fraction answered 429 Retry-After: 1
	LoseAckRate  float64       // fraction of event batches stored, then answered 503
	Latency      time.Duration // added to every /v1 request
	DownFor      time.Duration // connections are closed at once for this long after start
	RejectTypes  []string      // event batches holding one of these types get 400
	PartialAck   bool          // store only the first half of a batch and ack through it
	Seed         uint64        // for the fault dice; 0 = random

	AdminToken     string        // bearer token of the /v1/admin endpoints; "" turns them off
	HealthInterval time.Duration // the stores' fleet.health_interval; 3 without a snapshot = offline (default 60s)
	ConfigFault    string        // one of ConfigFaults, or "" (changeable at run time by an admin)

	// ClockOffset moves the cloud's clock (Now, the Date header, signature
	// checks) to test stores whose clock is wrong.
	ClockOffset time.Duration

	Now    func() time.Time
	Logger *slog.Logger
}

// Server is the reference cloud.
type Server struct {
	opt   Options
	log   *slog.Logger
	start time.Time
	done  chan struct{}
	once  sync.Once

	diceMu sync.Mutex
	dice   *rand.Rand

	evMu    sync.Mutex
	evFile  *os.File
	evSize  int64 // bytes in the event log
	evSync  *groupSync
	stores  map[string]*storeState
	byType  map[string]uint64
	counts  counters
	rejects map[string]bool

	verify cloudkit.Verifier
	cat    *catalog
	cred   *credits
	fleet  *fleetconsole.Console
}

type counters struct {
	Received        uint64 `json:"received"`
	Events          uint64 `json:"events"`
	Duplicates      uint64 `json:"duplicates"`
	Batches         uint64 `json:"batches"`
	ReplayedBatches uint64 `json:"replayed_batches"`
	RejectedBatches uint64 `json:"rejected_batches"`
	AuthFailures    uint64 `json:"auth_failures"`
	InjectedFail    uint64 `json:"injected_fail"`
	InjectedHang    uint64 `json:"injected_hang"`
	InjectedThrottl uint64 `json:"injected_throttle"`
	LostAcks        uint64 `json:"lost_acks"`
	DownRefused     uint64 `json:"down_refused"`
}

type storeState struct {
	ids        map[string]uint64 // id → seq
	seqs       bitset
	distinct   uint64
	lastSeq    uint64
	outOfOrder uint64
	seqReused  uint64 // a new id on a seq another id holds
	lastFault  string
	batchIDs   map[string]struct{}
}

// New opens (or creates) the cloud's state in opt.DataDir.
func New(opt Options) (*Server, error) {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if off := opt.ClockOffset; off != 0 {
		now := opt.Now
		opt.Now = func() time.Time { return now().Add(off) }
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	seed := opt.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	s := &Server{
		opt:     opt,
		log:     opt.Logger,
		start:   opt.Now(),
		done:    make(chan struct{}),
		dice:    rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		stores:  map[string]*storeState{},
		byType:  map[string]uint64{},
		rejects: map[string]bool{},
	}
	s.verify = cloudkit.Verifier{SecretFor: s.secretFor, Now: opt.Now, Refused: s.authFail}
	for _, t := range opt.RejectTypes {
		s.rejects[t] = true
	}
	if opt.DataDir != "" {
		if err := os.MkdirAll(opt.DataDir, 0o755); err != nil {
			return nil, fmt.Errorf("cloud data dir: %w", err)
		}
		if err := s.replayEvents(filepath.Join(opt.DataDir, "events.jsonl")); err != nil {
			return nil, err
		}
	}
	var err error
	if s.cat, err = openCatalog(opt.DataDir, opt.CatalogFile); err != nil {
		return nil, err
	}
	if s.cred, err = openCredits(opt.DataDir, opt.Credits, opt.Now); err != nil {
		return nil, err
	}
	s.fleet, err = fleetconsole.New(fleetconsole.Config{DataDir: opt.DataDir, AdminToken: opt.AdminToken, HealthInterval: opt.HealthInterval,
		Fault: opt.ConfigFault, SecretFor: s.secretFor, Now: opt.Now, Logger: opt.Logger, Done: s.done})
	if err != nil {
		return nil, err
	}
	if opt.DataDir != "" {
		go s.fleet.FlushLoop()
	}
	return s, nil
}

// Close saves the fleet state and releases the event log.
func (s *Server) Close() error {
	s.once.Do(func() { close(s.done) })
	ferr := s.fleet.Close()
	s.evMu.Lock()
	defer s.evMu.Unlock()
	if s.evFile != nil {
		err := s.evFile.Close()
		s.evFile = nil
		return errors.Join(err, ferr)
	}
	return ferr
}

// Serve answers on ln until ctx is cancelled. DownFor applies from the
// server's creation.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(&downListener{Listener: ln, s: s}) }()
	select {
	case err := <-errc:
		return fmt.Errorf("cloud serve: %w", err)
	case <-ctx.Done():
	}
	s.once.Do(func() { close(s.done) })
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	hs.Shutdown(sctx)
	return nil
}

// downListener closes connections at once while the server is "down".
type downListener struct {
	net.Listener
	s *Server
}

func (l *downListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.s.opt.DownFor > 0 && l.s.opt.Now().Sub(l.s.start) < l.s.opt.DownFor {
			l.s.evMu.Lock()
			l.s.counts.DownRefused++
			l.s.evMu.Unlock()
			if tc, ok := c.(*net.TCPConn); ok {
				tc.SetLinger(0) // reset, like a refused connection
			}
			c.Close()
			continue
		}
		return c, nil
	}
}

// Handler routes the cloud's endpoints.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	storeAPI := func(h http.Handler) http.Handler { return s.verify.Signed(s.faults(h)) }
	mux.Handle("POST /v1/stores/{store}/events", storeAPI(http.HandlerFunc(s.postEvents)))
	mux.Handle("GET /v1/stores/{store}/events/last", storeAPI(http.HandlerFunc(s.getLastSeq)))
	mux.Handle("GET /v1/stores/{store}/catalog", storeAPI(http.HandlerFunc(s.getCatalog)))
	mux.Handle("POST /v1/credits/authorize", storeAPI(http.HandlerFunc(s.authorize)))
	mux.Handle("POST /v1/credits/capture", storeAPI(http.HandlerFunc(s.capture)))
	mux.Handle("POST /v1/credits/cancel", storeAPI(http.HandlerFunc(s.cancel)))
	s.fleet.Mount(mux, storeAPI)
	mux.HandleFunc("GET /stats", s.getStats)
	mux.HandleFunc("PUT /admin/catalog", s.putCatalog)
	mux.HandleFunc("POST /admin/catalog", s.putCatalog)
	return s.dated(mux)
}

// dated sets every reply's Date from the cloud's clock (docs/UPSTREAM.md §2: stores
// correct their signing time from it); Go's server would use the host's.
func (s *Server) dated(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Date", s.opt.Now().UTC().Format(http.TimeFormat))
		next.ServeHTTP(w, r)
	})
}

func (s *Server) roll(p float64) bool {
	if p <= 0 {
		return false
	}
	s.diceMu.Lock()
	defer s.diceMu.Unlock()
	return s.dice.Float64() < p
}

// authFail counts and logs a refused signature (cloudkit answers 401).
func (s *Server) authFail(why string) {
	s.evMu.Lock()
	s.counts.AuthFailures++
	s.evMu.Unlock()
	s.log.Warn("refused request", "why", why)
}

func (s *Server) secretFor(store string) string {
	if v, ok := s.opt.StoreSecrets[store]; ok {
		return v
	}
	return s.opt.Secret
}

// faults injects latency, hangs, failures and throttling before the work.
func (s *Server) faults(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.opt.Latency > 0 {
			select {
			case <-time.After(s.opt.Latency):
			case <-r.Context().Done():
				return
			}
		}
		if s.roll(s.opt.HangRate) {
			s.bump(func(c *counters) { c.InjectedHang++ })
			select {
			case <-r.Context().Done():
			case <-s.done:
			}
			return
		}
		if s.roll(s.opt.FailRate) {
			s.bump(func(c *counters) { c.InjectedFail++ })
			cloudkit.WriteErr(w, http.StatusServiceUnavailable, "injected_failure", "fail-rate")
			return
		}
		if s.roll(s.opt.ThrottleRate) {
			s.bump(func(c *counters) { c.InjectedThrottl++ })
			w.Header().Set("Retry-After", "1")
			cloudkit.WriteErr(w, http.StatusTooManyRequests, "throttled", "throttle-rate")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) bump(f func(*counters)) {
	s.evMu.Lock()
	f(&s.counts)
	s.evMu.Unlock()
}

// logLine is one stored event in events.jsonl, or (Copy set, Event
// empty) the seq a dropped renumbered copy took.
type logLine struct {
	Store string       `json:"store"`
	Event ledger.Event `json:"event"`
	Copy  *copyRef     `json:"copy,omitempty"`
}

// copyRef is a renumbered copy of a held event: its seq is taken.
type copyRef struct {
	ID  string `json:"id"`
	Seq uint64 `json:"seq"`
}

func (s *Server) state(store string) *storeState {
	st := s.stores[store]
	if st == nil {
		st = &storeState{ids: map[string]uint64{}, batchIDs: map[string]struct{}{}}
		s.stores[store] = st
	}
	return st
}

// record accounts for one event; it reports whether it is new, and
// whether it was a renumbered copy whose seq is now taken.
func (s *Server) record(store string, e ledger.Event) (isNew, copyTook bool) {
	st := s.state(store)
	if seq, dup := st.ids[e.ID]; dup {
		s.counts.Duplicates++
		if seq != e.Seq && !st.seqs.has(e.Seq) {
			// A renumbered copy (a box restored from a backup): its seq is
			// taken by the copy, not a gap.
			s.takeSeq(st, e.Seq)
			return false, true
		}
		return false, false
	}
	st.ids[e.ID] = e.Seq
	if !st.seqs.has(e.Seq) {
		st.seqs.set(e.Seq)
		st.distinct++
	} else {
		st.seqReused++
		st.lastFault = fmt.Sprintf("event %s reuses seq %d", e.ID, e.Seq)
	}
	if e.Seq <= st.lastSeq {
		st.outOfOrder++
		st.lastFault = fmt.Sprintf("event %s has seq %d, not above the store's last seq %d", e.ID, e.Seq, st.lastSeq)
	} else {
		st.lastSeq = e.Seq
	}
	s.counts.Events++
	s.byType[e.Type]++
	return true, false
}

func (s *Server) takeSeq(st *storeState, seq uint64) {
	if !st.seqs.has(seq) {
		st.seqs.set(seq)
		st.distinct++
	}
	st.lastSeq = max(st.lastSeq, seq)
}

// replayEvents rebuilds the in-memory indexes from the log; a torn last line
// (crash mid-write) is cut off.
func (s *Server) replayEvents(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("open event log: %w", err)
	}
	br := bufio.NewReaderSize(f, 1<<20)
	var good int64
	for {
		line, err := br.ReadBytes('\n')
		if err == io.EOF {
			break
		}
		if err != nil {
			f.Close()
			return fmt.Errorf("read event log: %w", err)
		}
		var ll logLine
		if json.Unmarshal(line, &ll) != nil {
			break
		}
		if ll.Copy != nil {
			s.takeSeq(s.state(ll.Store), ll.Copy.Seq)
		} else {
			s.record(ll.Store, ll.Event)
		}
		good += int64(len(line))
	}
	s.counts.Duplicates = 0
	if err := f.Truncate(good); err != nil {
		f.Close()
		return fmt.Errorf("trim event log: %w", err)
	}
	if _, err := f.Seek(good, io.SeekStart); err != nil {
		f.Close()
		return fmt.Errorf("seek event log: %w", err)
	}
	s.evFile, s.evSize, s.evSync = f, good, newGroupSync(good)
	return nil
}

func (s *Server) postEvents(w http.ResponseWriter, r *http.Request) {
	store := r.PathValue("store")
	var b ledger.Batch
	dec := json.NewDecoder(bytes.NewReader(cloudkit.Body(r)))
	if err := dec.Decode(&b); err != nil {
		cloudkit.WriteErr(w, http.StatusBadRequest, "bad_json", err.Error())
		return
	}
	if err := validBatch(b, r.Header.Get(ledger.HeaderIdemKey)); err != nil {
		s.bump(func(c *counters) { c.RejectedBatches++ })
		cloudkit.WriteErr(w, http.StatusBadRequest, "bad_batch", err.Error())
		return
	}
	for _, e := range b.Events {
		if s.rejects[e.Type] {
			s.bump(func(c *counters) { c.RejectedBatches++ })
			cloudkit.WriteErr(w, http.StatusBadRequest, "rejected_type", "event type "+e.Type+" is not accepted")
			return
		}
	}
	take := b.Events
	if s.opt.PartialAck && len(take) > 1 {
		take = take[:(len(take)+1)/2]
	}

	s.evMu.Lock()
	st := s.state(store)
	s.counts.Batches++
	s.counts.Received += uint64(len(take))
	if _, seen := st.batchIDs[b.BatchID]; seen {
		s.counts.ReplayedBatches++
	}
	st.batchIDs[b.BatchID] = struct{}{}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for _, e := range take {
		switch isNew, took := s.record(store, e); {
		case isNew:
			enc.Encode(logLine{Store: store, Event: e})
		case took:
			enc.Encode(logLine{Store: store, Copy: &copyRef{ID: e.ID, Seq: e.Seq}})
		}
	}
	// Every seq the ack covers was appended at or before this offset (record
	// and write happen under evMu), so syncing through it makes the ack true.
	logFile, syncTo := s.evFile, s.evSize
	if logFile != nil && buf.Len() > 0 {
		n, err := logFile.Write(buf.Bytes())
		s.evSize += int64(n)
		syncTo = s.evSync.appended(s.evSize)
		if err != nil {
			s.evMu.Unlock()
			cloudkit.WriteErr(w, http.StatusInternalServerError, "storage", err.Error())
			return
		}
	}
	// Every event of take is held now, some under an earlier seq (a
	// dropped duplicate): the ack covers their seqs too.
	inBatch := make(map[uint64]bool, len(take))
	for _, e := range take {
		inBatch[e.Seq] = true
	}
	ack := take[0].Seq
	for inBatch[ack+1] || st.seqs.has(ack+1) {
		ack++
	}
	s.evMu.Unlock()
	if logFile != nil {
		if err := s.evSync.through(logFile, syncTo); err != nil {
			cloudkit.WriteErr(w, http.StatusInternalServerError, "storage", err.Error())
			return
		}
	}

	if s.roll(s.opt.LoseAckRate) {
		s.bump(func(c *counters) { c.LostAcks++ })
		cloudkit.WriteErr(w, http.StatusServiceUnavailable, "injected_lost_ack", "stored but not acknowledged")
		return
	}
	cloudkit.WriteJSON(w, http.StatusOK, ledger.Ack{AckedThrough: ack})
}

// getLastSeq is GET /v1/stores/<s>/events/last: the highest seq held for
// the store, 0 when none (UPSTREAM.md §3).
func (s *Server) getLastSeq(w http.ResponseWriter, r *http.Request) {
	s.evMu.Lock()
	var last uint64
	if st := s.stores[r.PathValue("store")]; st != nil {
		last = st.lastSeq
	}
	s.evMu.Unlock()
	cloudkit.WriteJSON(w, http.StatusOK, map[string]uint64{"last_seq": last})
}

func validBatch(b ledger.Batch, idem string) error {
	if b.BatchID == "" {
		return errors.New("batch_id is empty")
	}
	if idem != "" && idem != b.BatchID {
		return fmt.Errorf("Idempotency-Key %q differs from batch_id %q", idem, b.BatchID)
	}
	if len(b.Events) == 0 {
		return errors.New("no events")
	}
	var prev uint64
	for i, e := range b.Events {
		switch {
		case e.ID == "":
			return fmt.Errorf("events[%d]: id is empty", i)
		case e.Seq == 0:
			return fmt.Errorf("events[%d]: seq must be > 0", i)
		case e.Seq <= prev:
			return fmt.Errorf("events[%d]: seq %d not above the previous %d", i, e.Seq, prev)
		case e.Type == "":
			return fmt.Errorf("events[%d]: type is empty", i)
		}
		prev = e.Seq
	}
	return nil
}

// StoreStats are the per-store sequence facts.
type StoreStats struct {
	LastSeq  uint64 `json:"last_seq"`
	Distinct uint64 `json:"distinct_seqs"`
	Gaps     uint64 `json:"gaps"` // seqs in 1..last_seq never received
	// OutOfOrder counts new ids whose seq was not above the store's last
	// seq: a box that numbered from a stale counter (a fault).
	OutOfOrder uint64 `json:"out_of_order"`
	// SeqReused counts new ids on a seq another id holds (a fault).
	SeqReused uint64 `json:"seq_reused"`
	// LastFault describes the latest of either.
	LastFault string `json:"last_fault,omitempty"`
}

// Stats is GET /stats?format=json.
type Stats struct {
	counters
	ByType  map[string]uint64     `json:"by_type"`
	Stores  map[string]StoreStats `json:"stores"`
	LastSeq uint64                `json:"last_seq"` // highest over stores
	Gaps    uint64                `json:"gaps"`
	// SeqFaults is out_of_order + seq_reused over all stores: the ledger's
	// numbering went back somewhere.
	SeqFaults uint64                `json:"seq_faults"`
	Credits   map[string]int64      `json:"credits"`
	Catalog   int                   `json:"catalog_items"`
	Fleet     fleetconsole.Counters `json:"fleet"`
	// EventFsyncs is how many fsyncs made the event log durable (batches
	// written while one ran share the next).
	EventFsyncs uint64 `json:"event_fsyncs"`
	Fleets      int    `json:"fleet_stores"`
}

// Stats returns a snapshot.
func (s *Server) Stats() Stats {
	s.evMu.Lock()
	out := Stats{counters: s.counts, ByType: map[string]uint64{}, Stores: map[string]StoreStats{}}
	for k, v := range s.byType {
		out.ByType[k] = v
	}
	for id, st := range s.stores {
		ss := StoreStats{LastSeq: st.lastSeq, Distinct: st.distinct, OutOfOrder: st.outOfOrder, SeqReused: st.seqReused,
			LastFault: st.lastFault, Gaps: st.lastSeq - st.distinct}
		out.Stores[id] = ss
		out.LastSeq = max(out.LastSeq, ss.LastSeq)
		out.Gaps += ss.Gaps
		out.SeqFaults += ss.OutOfOrder + ss.SeqReused
	}
	s.evMu.Unlock()
	out.Credits = s.cred.balances()
	out.Catalog = s.cat.size()
	out.Fleet, out.Fleets = s.fleet.Stats()
	if s.evSync != nil {
		out.EventFsyncs = s.evSync.count()
	}
	return out
}

// Fleet is the fleet console's view: the stores changed after since.
func (s *Server) Fleet(since uint64) fleetconsole.View { return s.fleet.View(since) }

func (s *Server) getStats(w http.ResponseWriter, r *http.Request) {
	st := s.Stats()
	if r.URL.Query().Get("format") == "json" {
		cloudkit.WriteJSON(w, http.StatusOK, st)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, "events %d (received %d, duplicates %d) in %d batches (%d replayed, %d rejected)\n",
		st.Events, st.Received, st.Duplicates, st.Batches, st.ReplayedBatches, st.RejectedBatches)
	ids := make([]string, 0, len(st.Stores))
	for id := range st.Stores {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		ss := st.Stores[id]
		fmt.Fprintf(w, "store %s: last seq %d, gaps %d, out of order %d, seq reused %d\n", id, ss.LastSeq, ss.Gaps, ss.OutOfOrder, ss.SeqReused)
		if ss.LastFault != "" {
			fmt.Fprintf(w, "  FAULT: the ledger's seq went back (%d times); last: %s\n", ss.OutOfOrder+ss.SeqReused, ss.LastFault)
		}
	}
	types := make([]string, 0, len(st.ByType))
	for t := range st.ByType {
		types = append(types, t)
	}
	sort.Strings(types)
	for _, t := range types {
		fmt.Fprintf(w, "  %-22s %d\n", t, st.ByType[t])
	}
	fmt.Fprintf(w, "refused signatures %d; injected: fail %d, hang %d, throttle %d, lost acks %d, down refusals %d\n",
		st.AuthFailures, st.InjectedFail, st.InjectedHang, st.InjectedThrottl, st.LostAcks, st.DownRefused)
	fmt.Fprintf(w, "catalog items %d\n", st.Catalog)
	fmt.Fprintf(w, "fleet: %d stores; health received %d (p50 %.2f ms, p99 %.2f ms in the cloud), rejected %d; config served %d, not modified %d, faulted %d; admin accepted %d, refused %d\n",
		st.Fleets, st.Fleet.HealthReceived, st.Fleet.HealthP50MS, st.Fleet.HealthP99MS, st.Fleet.HealthRejected, st.Fleet.ConfigServed, st.Fleet.ConfigNotModified, st.Fleet.ConfigFaulted, st.Fleet.ConfigAccepted, st.Fleet.ConfigRefused)
	accts := make([]string, 0, len(st.Credits))
	for a := range st.Credits {
		accts = append(accts, a)
	}
	sort.Strings(accts)
	for _, a := range accts {
		fmt.Fprintf(w, "credit %s %d\n", a, st.Credits[a])
	}
}

// bitset is a sparse set of seqs: 64 Ki-bit chunks, allocated on use.
type bitset struct{ chunks map[uint64]*[1024]uint64 }

func (b *bitset) has(i uint64) bool {
	c := b.chunks[i>>16]
	return c != nil && c[(i>>6)&1023]&(1<<(i%64)) != 0
}

func (b *bitset) set(i uint64) {
	if b.chunks == nil {
		b.chunks = map[uint64]*[1024]uint64{}
	}
	c := b.chunks[i>>16]
	if c == nil {
		c = new([1024]uint64)
		b.chunks[i>>16] = c
	}
	c[(i>>6)&1023] |= 1 << (i % 64)
}
