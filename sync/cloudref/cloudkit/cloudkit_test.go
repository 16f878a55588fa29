package cloudkit

import (
	"bytes"
	"compress/gzip"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/storebox/storebox/protocol/ledger"
)

func TestSignedPassesTheVerifiedBodyAndRefusesTheRest(t *testing.T) {
	var refused []string
	v := Verifier{
		SecretFor: func(store string) string {
			if store == "s1" {
				return "k1"
			}
			return ""
		},
		Now:     time.Now,
		Refused: func(why string) { refused = append(refused, why) },
	}
	var got []byte
	hs := httptest.NewServer(v.Signed(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = Body(r)
		w.WriteHeader(http.StatusNoContent)
	})))
	defer hs.Close()
	mux := http.NewServeMux()
	mux.Handle("POST /v1/stores/{store}/events", v.Signed(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})))
	paths := httptest.NewServer(mux)
	defer paths.Close()

	send := func(base, path, store, secret string, body []byte, gz bool) int {
		t.Helper()
		wire := body
		if gz {
			var b bytes.Buffer
			zw := gzip.NewWriter(&b)
			zw.Write(body)
			zw.Close()
			wire = b.Bytes()
		}
		req, _ := http.NewRequest("POST", base+path, bytes.NewReader(wire))
		req.Header.Set(ledger.HeaderStore, store)
		req.Header.Set(ledger.HeaderSignature, ledger.Sign(secret, time.Now(), ledger.SignedPayload(body, path)))
		if gz {
			req.Header.Set("Content-Encoding", "gzip")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	body := []byte(`{"batch_id":"b1"}`)
	if code := send(hs.URL, "/x", "s1", "k1", body, true); code != 204 || string(got) != string(body) {
		t.Fatalf("gzipped, signed over the plain body: %d, handler saw %q", code, got)
	}
	if code := send(hs.URL, "/x", "s1", "wrong", body, false); code != 401 {
		t.Errorf("wrong secret: %d", code)
	}
	if code := send(hs.URL, "/x", "s9", "k1", body, false); code != 401 {
		t.Errorf("unknown store: %d", code)
	}
	if code := send(paths.URL, "/v1/stores/s2/events", "s1", "k1", body, false); code != 401 {
		t.Errorf("store header differs from the path: %d", code)
	}
	if len(refused) != 3 {
		t.Errorf("refusals reported %q, want 3", refused)
	}
}

func TestReplaceFileLeavesNoTemporary(t *testing.T) {
	p := filepath.Join(t.TempDir(), "state.json")
	for _, b := range []string{"old", "new"} {
		if err := ReplaceFile(p, []byte(b), "state"); err != nil {
			t.Fatal(err)
		}
	}
	if b, err := os.ReadFile(p); err != nil || string(b) != "new" {
		t.Fatalf("read back %q, %v", b, err)
	}
	if _, err := os.Stat(p + ".tmp"); !os.IsNotExist(err) {
		t.Fatalf("temporary file left: %v", err)
	}
	if err := ReplaceFile(filepath.Join(p, "sub"), nil, "state"); err == nil {
		t.Fatal("a path under a file was written")
	}
}
