package upstream_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/storebox/storebox/protocol/goods"
	"github.com/storebox/storebox/protocol/ledger"
	"github.com/storebox/storebox/sync/cloudref"
	"github.com/storebox/storebox/sync/upstream"
)

func newCloud(t *testing.T, opt cloudref.Options) (*cloudref.Server, string) {
	t.Helper()
	if opt.Secret == "" {
		opt.Secret = "s3cret"
	}
	srv, err := cloudref.New(opt)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() { hs.Close(); srv.Close() })
	return srv, hs.URL
}

func events(from, to uint64, typ string) []ledger.Event {
	var out []ledger.Event
	for s := from; s <= to; s++ {
		out = append(out, ledger.Event{ID: fmt.Sprintf("e%d", s), Seq: s, Type: typ, At: time.Now().UTC(),
			Data: json.RawMessage(`{"oid":"` + strings.Repeat("x", 40) + `"}`)})
	}
	return out
}

func TestPostEventsSignedAndGzipped(t *testing.T) {
	srv, url := newCloud(t, cloudref.Options{})
	c := upstream.New(url, "s1", "s3cret", 5*time.Second)
	// 200 events are well over the gzip threshold.
	ack, err := c.PostEvents(context.Background(), ledger.Batch{BatchID: "s1-1-200", Events: events(1, 200, ledger.OrderPaid)})
	if err != nil {
		t.Fatal(err)
	}
	if ack.AckedThrough != 200 {
		t.Fatalf("acked_through = %d, want 200", ack.AckedThrough)
	}
	// Resending is harmless: counted as duplicates, not stored twice.
	if _, err := c.PostEvents(context.Background(), ledger.Batch{BatchID: "s1-1-200", Events: events(1, 200, ledger.OrderPaid)}); err != nil {
		t.Fatal(err)
	}
	st := srv.Stats()
	if st.Events != 200 || st.Duplicates != 200 || st.ReplayedBatches != 1 || st.ByType[ledger.OrderPaid] != 200 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestCloudRefusesForgedAndStaleSignatures(t *testing.T) {
	srv, url := newCloud(t, cloudref.Options{})
	forged := upstream.New(url, "s1", "wrong", 5*time.Second)
	_, err := forged.PostEvents(context.Background(), ledger.Batch{BatchID: "b", Events: events(1, 1, "x")})
	var re *upstream.RetryableError
	if !errors.As(err, &re) || re.Status != 401 {
		t.Fatalf("forged: err = %v, want retryable 401", err)
	}
	stale := upstream.New(url, "s1", "s3cret", 5*time.Second)
	stale.Now = func() time.Time { return time.Now().Add(-6 * time.Minute) }
	// The cloud refuses the stale signature; the client signs again with
	// the cloud's time (its Date) and gets through (docs/UPSTREAM.md §2).
	if _, err := stale.Catalog(context.Background(), "", 10); err != nil {
		t.Fatalf("stale: err = %v, want it corrected", err)
	}
	if cl := stale.Clock(); !cl.Corrected || cl.Offset > -6*time.Minute+3*time.Second || cl.Offset < -6*time.Minute-3*time.Second {
		t.Fatalf("stale: clock %+v, want corrected by about -6m", cl)
	}
	if st := srv.Stats(); st.Events != 0 || st.AuthFailures != 2 {
		t.Fatalf("stats = %+v", st)
	}

	// A body tampered with in flight fails even with the right secret.
	body := `{"batch_id":"b","events":[{"id":"e1","seq":1,"type":"x","at":"2026-01-01T00:00:00Z","data":{}}]}`
	req, _ := http.NewRequest("POST", url+"/v1/stores/s1/events", strings.NewReader(strings.Replace(body, `"e1"`, `"e2"`, 1)))
	req.Header.Set(ledger.HeaderStore, "s1")
	req.Header.Set(ledger.HeaderSignature, ledger.Sign("s3cret", time.Now(), []byte(body)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("tampered body: status %d, want 401", resp.StatusCode)
	}
	// And a store header that does not match the path.
	other := upstream.New(url, "s2", "s3cret", 5*time.Second)
	other.StoreID = "s2"
	req, _ = http.NewRequest("POST", url+"/v1/stores/s1/events", strings.NewReader(body))
	req.Header.Set(ledger.HeaderStore, "s2")
	req.Header.Set(ledger.HeaderSignature, ledger.Sign("s3cret", time.Now(), []byte(body)))
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("store mismatch: status %d, want 401", resp.StatusCode)
	}
}

func TestErrorClassification(t *testing.T) {
	var mu sync.Mutex
	var status int
	var retryAfter string
	set := func(s int, ra string) { mu.Lock(); status, retryAfter = s, ra; mu.Unlock() }
	hang := make(chan struct{})
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) // so the server notices the client leaving
		mu.Lock()
		status, retryAfter := status, retryAfter
		mu.Unlock()
		if status == 0 {
			select {
			case <-r.Context().Done():
			case <-hang:
			}
			return
		}
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		w.WriteHeader(status)
		io.WriteString(w, `{"error":"x"}`)
	}))
	defer func() { close(hang); hs.Close() }()
	c := upstream.New(hs.URL, "s1", "k", 300*time.Millisecond)
	ctx := context.Background()
	batch := ledger.Batch{BatchID: "b", Events: events(1, 1, "x")}

	for _, tc := range []struct {
		status     int
		retryAfter string
		retryable  bool
		wantAfter  time.Duration
	}{
		{503, "", true, 0},
		{500, "", true, 0},
		{429, "7", true, 7 * time.Second},
		{429, time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat), true, 80 * time.Second},
		{401, "", true, 0},
		{400, "", false, 0},
		{404, "", true, 0}, // events only: a wrong URL or store id
		{422, "", false, 0},
		{409, "", false, 0},
	} {
		set(tc.status, tc.retryAfter)
		_, err := c.PostEvents(ctx, batch)
		if err == nil {
			t.Fatalf("%d: no error", tc.status)
		}
		if upstream.IsRetryable(err) != tc.retryable {
			t.Errorf("%d: retryable = %v (%v)", tc.status, !tc.retryable, err)
		}
		if !tc.retryable {
			var rej *upstream.RejectedError
			if !errors.As(err, &rej) || rej.Status != tc.status || !strings.Contains(rej.Body, "error") {
				t.Errorf("%d: err = %#v, want RejectedError", tc.status, err)
			}
		}
		if ra, _ := upstream.RetryAfter(err); ra < tc.wantAfter || (tc.wantAfter == 0 && ra != 0) || ra > tc.wantAfter+15*time.Second {
			t.Errorf("%d: retry after %v, want ≈%v", tc.status, ra, tc.wantAfter)
		}
	}

	set(402, "")
	if _, err := c.Authorize(ctx, "acct", 100, "o1", time.Minute); !errors.Is(err, upstream.ErrInsufficientCredit) {
		t.Errorf("402: %v", err)
	}

	set(0, "") // hang: our timeout is a retryable "unreachable"
	if _, err := c.PostEvents(ctx, batch); !upstream.IsRetryable(err) {
		t.Errorf("hang: %v, want retryable", err)
	}
	// The caller going away is not retryable.
	cctx, cancel := context.WithCancel(ctx)
	time.AfterFunc(50*time.Millisecond, cancel)
	if _, err := c.PostEvents(cctx, batch); upstream.IsRetryable(err) || !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v, want context.Canceled", err)
	}

	// Nothing listening.
	hs2 := httptest.NewServer(http.NotFoundHandler())
	dead := hs2.URL
	hs2.Close()
	if _, err := upstream.New(dead, "s1", "k", time.Second).PostEvents(ctx, batch); !upstream.IsRetryable(err) {
		t.Errorf("refused: %v, want retryable", err)
	}
}

func TestCatalogPagesAndPing(t *testing.T) {
	srv, url := newCloud(t, cloudref.Options{})
	_ = srv
	var items []string
	for i := range 25 {
		g := goods.Goods{GID: fmt.Sprintf("g%02d", i), Name: "item", Price: int64(100 + i), Unit: goods.UnitPieces, Stock: 5}
		b, _ := json.Marshal(g)
		items = append(items, string(b))
	}
	resp, err := http.Post(url+"/admin/catalog", "application/x-ndjson", strings.NewReader(strings.Join(items, "\n")))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("seed catalog: %v %v", err, resp)
	}
	c := upstream.New(url, "s1", "s3cret", 5*time.Second)
	ctx := context.Background()
	cursor, got := "", 0
	for pages := 0; ; pages++ {
		p, err := c.Catalog(ctx, cursor, 10)
		if err != nil {
			t.Fatal(err)
		}
		got += len(p.Items)
		cursor = p.Cursor
		if !p.More {
			if pages != 2 {
				t.Errorf("pages = %d, want 3", pages+1)
			}
			break
		}
	}
	if got != 25 {
		t.Fatalf("items = %d", got)
	}
	p, err := c.Catalog(ctx, cursor, 10)
	if err != nil || len(p.Items) != 0 || p.More || p.Cursor != cursor {
		t.Fatalf("after the end: %+v %v", p, err)
	}
	pr, err := c.Ping(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !pr.HasDate || pr.Skew > 2*time.Second || pr.Skew < -2*time.Second {
		t.Fatalf("ping = %+v", pr)
	}
	bad := upstream.New(url, "s1", "nope", time.Second)
	if _, err := bad.Ping(ctx); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("ping with a wrong secret: %v", err)
	}
}

func TestCredits(t *testing.T) {
	srv, url := newCloud(t, cloudref.Options{Credits: map[string]int64{"acct-1": 1000}})
	c := upstream.New(url, "s1", "s3cret", 5*time.Second)
	ctx := context.Background()
	tx, err := c.Authorize(ctx, "acct-1", 600, "o1", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	// Retrying the same authorize returns the same hold.
	if tx2, err := c.Authorize(ctx, "acct-1", 600, "o1", time.Minute); err != nil || tx2 != tx {
		t.Fatalf("retry authorize: %q %v, want %q", tx2, err, tx)
	}
	if _, err := c.Authorize(ctx, "acct-1", 500, "o2", time.Minute); !errors.Is(err, upstream.ErrInsufficientCredit) {
		t.Fatalf("over the balance with a hold: %v", err)
	}
	if err := c.Capture(ctx, tx, 550); err != nil {
		t.Fatal(err)
	}
	if err := c.Capture(ctx, tx, 550); err != nil {
		t.Fatalf("capture retry: %v", err)
	}
	tx3, err := c.Authorize(ctx, "acct-1", 450, "o3", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Cancel(ctx, tx3); err != nil {
		t.Fatal(err)
	}
	var rej *upstream.RejectedError
	if err := c.Capture(ctx, tx3, 10); !errors.As(err, &rej) || rej.Status != 409 {
		t.Fatalf("capture after cancel: %v", err)
	}
	if _, err := c.Authorize(ctx, "nobody", 1, "o4", time.Minute); !errors.As(err, &rej) || rej.Status != 404 {
		t.Fatalf("unknown account: %v", err)
	}
	if bal := srv.Stats().Credits["acct-1"]; bal != 450 {
		t.Fatalf("balance = %d, want 450", bal)
	}
}

// A box whose clock is an hour behind the cloud's: the first request is
// refused as stale, the client signs with the cloud's time from the
// refusal's Date and the request goes through; later ones are signed
// right at once, and Clock tells the offset.
func TestSignsWithTheCloudsTimeWhenItsClockIsOff(t *testing.T) {
	cloudNow := func() time.Time { return time.Now().Add(time.Hour) }
	var refused, taken int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Date", cloudNow().UTC().Format(http.TimeFormat))
		if err := ledger.Verify("k", r.Header.Get(ledger.HeaderSignature), ledger.SignedPayload(nil, r.RequestURI), cloudNow()); err != nil {
			refused++
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprintf(w, `{"error":"bad_signature","detail":%q}`, err.Error())
			return
		}
		taken++
		fmt.Fprint(w, `{"last_seq": 7}`)
	}))
	defer srv.Close()
	c := upstream.New(srv.URL, "s1", "k", 2*time.Second)
	if st := c.Clock(); st.Known || st.Corrected {
		t.Fatalf("before any reply: %+v", st)
	}
	last, err := c.LastSeq(context.Background())
	if err != nil || last != 7 || refused != 1 || taken != 1 {
		t.Fatalf("last %d, %v; refused %d, taken %d", last, err, refused, taken)
	}
	st := c.Clock()
	if !st.Known || !st.Corrected || st.Offset > -time.Hour+3*time.Second || st.Offset < -time.Hour-3*time.Second {
		t.Fatalf("clock %+v, want about -1h corrected", st)
	}
	if _, err := c.LastSeq(context.Background()); err != nil || refused != 1 {
		t.Fatalf("second request: %v, refused %d", err, refused)
	}
	if d := c.CloudNow().Sub(cloudNow()); d > 3*time.Second || d < -3*time.Second {
		t.Fatalf("CloudNow off the cloud's by %s", d)
	}
}

// Within two minutes the box's own clock signs.
func TestSmallOffsetIsOnlyMeasured(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Date", time.Now().Add(-time.Minute).UTC().Format(http.TimeFormat))
		fmt.Fprint(w, `{"last_seq": 0}`)
	}))
	defer srv.Close()
	c := upstream.New(srv.URL, "s1", "k", 2*time.Second)
	if _, err := c.LastSeq(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := c.Clock(); !st.Known || st.Corrected || st.Offset < 58*time.Second || st.Offset > 62*time.Second {
		t.Fatalf("clock %+v, want about +1m, not corrected", st)
	}
}

// A cloud stricter than five minutes refuses a signature 90 s off as
// stale: the client follows its Date although the offset is under the
// two minutes it would act on by itself.
func TestStaleRefusalUnderTheThresholdFollowsTheCloud(t *testing.T) {
	cloudNow := func() time.Time { return time.Now().Add(90 * time.Second) }
	refused := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Date", cloudNow().UTC().Format(http.TimeFormat))
		sig := r.Header.Get(ledger.HeaderSignature)
		var ts int64
		fmt.Sscanf(sig, "t=%d", &ts)
		if d := cloudNow().Sub(time.Unix(ts, 0)); d > time.Minute || d < -time.Minute {
			refused++
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"error":"bad_signature","detail":"stale signature"}`)
			return
		}
		fmt.Fprint(w, `{"last_seq": 3}`)
	}))
	defer srv.Close()
	c := upstream.New(srv.URL, "s1", "k", 2*time.Second)
	if last, err := c.LastSeq(context.Background()); err != nil || last != 3 || refused != 1 {
		t.Fatalf("last %d, %v, refused %d", last, err, refused)
	}
	if st := c.Clock(); !st.Corrected {
		t.Fatalf("clock %+v, want corrected after a stale refusal", st)
	}
}

// A Retry-After date is on the cloud's clock: from a box an hour behind
// the cloud, "retry at the cloud's now + 30 s" is a 30 s wait, not 1h30m.
func TestRetryAfterDateOnTheCloudsClock(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cloud := time.Now().Add(time.Hour).UTC()
		w.Header().Set("Date", cloud.Format(http.TimeFormat))
		w.Header().Set("Retry-After", cloud.Add(30*time.Second).Format(http.TimeFormat))
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	c := upstream.New(srv.URL, "s1", "k", 2*time.Second)
	_, err := c.LastSeq(context.Background())
	if d, _ := upstream.RetryAfter(err); d < 28*time.Second || d > 31*time.Second {
		t.Fatalf("retry after %s (%v), want about 30s", d, err)
	}
}
