package cloudref_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/storebox/storebox/protocol/ledger"
	"github.com/storebox/storebox/sync/cloudref"
	"github.com/storebox/storebox/sync/upstream"
)

func newCloud(t *testing.T, opt cloudref.Options) (*cloudref.Server, *upstream.Client) {
	t.Helper()
	opt.Secret = "k"
	srv, err := cloudref.New(opt)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() { hs.Close(); srv.Close() })
	return srv, upstream.New(hs.URL, "s1", "k", 5*time.Second)
}

func events(first uint64, ids ...string) ledger.Batch {
	b := ledger.Batch{BatchID: "b-" + ids[0]}
	for i, id := range ids {
		b.Events = append(b.Events, ledger.Event{ID: id, Seq: first + uint64(i), Type: ledger.OrderPaid, At: time.Now(), Data: json.RawMessage(`{}`)})
	}
	return b
}

func TestLastSeqDedupeByIDAndSeqFaults(t *testing.T) {
	srv, c := newCloud(t, cloudref.Options{})
	ctx := context.Background()
	if last, err := c.LastSeq(ctx); err != nil || last != 0 {
		t.Fatalf("empty cloud: last %d, %v", last, err)
	}
	if ack, err := c.PostEvents(ctx, events(1, "a", "b", "c", "d")); err != nil || ack.AckedThrough != 4 {
		t.Fatalf("%+v %v", ack, err)
	}
	if last, err := c.LastSeq(ctx); err != nil || last != 4 {
		t.Fatalf("last %d, %v", last, err)
	}
	// A restored box renumbered its unsent c, d (already here from the old
	// box) and a new sale e above 4: c and d are dropped, all acknowledged.
	if ack, err := c.PostEvents(ctx, events(5, "c", "d", "e")); err != nil || ack.AckedThrough != 7 {
		t.Fatalf("renumbered copies: %+v %v", ack, err)
	}
	st := srv.Stats()
	if ss := st.Stores["s1"]; st.Events != 5 || st.Duplicates != 2 || ss.LastSeq != 7 || ss.Gaps != 0 || ss.OutOfOrder != 0 || ss.SeqReused != 0 || st.SeqFaults != 0 {
		t.Fatalf("stats %+v %+v", st.Events, ss)
	}
	// A box numbering from a stale counter: stored, reported as a fault.
	if _, err := c.PostEvents(ctx, events(3, "x")); err != nil {
		t.Fatal(err)
	}
	st = srv.Stats()
	if ss := st.Stores["s1"]; st.Events != 6 || ss.OutOfOrder != 1 || ss.SeqReused != 1 || st.SeqFaults != 2 || ss.LastFault == "" {
		t.Fatalf("stale seq: %+v", ss)
	}
}

func TestClockOffsetMovesDateAndSignatureCheck(t *testing.T) {
	srv, c := newCloud(t, cloudref.Options{ClockOffset: time.Hour})
	ctx := context.Background()
	// A store on the true clock is an hour behind the cloud: its first
	// signature is refused as stale, and it signs again with the cloud's
	// time from the refusal's Date.
	if _, err := c.LastSeq(ctx); err != nil {
		t.Fatalf("after the correction: %v", err)
	}
	if st := srv.Stats(); st.AuthFailures != 1 {
		t.Fatalf("auth failures %d, want the one stale signature", st.AuthFailures)
	}
	if cl := c.Clock(); !cl.Corrected || cl.Offset > -time.Hour+3*time.Second || cl.Offset < -time.Hour-3*time.Second {
		t.Fatalf("client clock %+v", cl)
	}
	resp, err := http.Get(c.BaseURL + "/stats")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	d, err := http.ParseTime(resp.Header.Get("Date"))
	if err != nil || time.Until(d) < 59*time.Minute {
		t.Fatalf("Date %q: %v", resp.Header.Get("Date"), err)
	}
}

// The seqs renumbered copies took stay taken across a restart of the cloud.
func TestCopySeqsSurviveARestart(t *testing.T) {
	dir := t.TempDir()
	srv, c := newCloud(t, cloudref.Options{DataDir: dir})
	ctx := context.Background()
	if _, err := c.PostEvents(ctx, events(1, "a", "b")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PostEvents(ctx, events(3, "b", "c")); err != nil { // b renumbered to 3
		t.Fatal(err)
	}
	srv.Close()
	again, err := cloudref.New(cloudref.Options{DataDir: dir, Secret: "k"})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	st := again.Stats()
	if ss := st.Stores["s1"]; st.Events != 3 || ss.LastSeq != 4 || ss.Gaps != 0 || st.SeqFaults != 0 {
		t.Fatalf("after a restart: events %d, %+v", st.Events, ss)
	}
}
