package fleetconsole

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/storebox/storebox/protocol/fleetmsg"
	"github.com/storebox/storebox/protocol/ledger"
	"github.com/storebox/storebox/sync/cloudref/cloudkit"
)

const testAdmin = "admin-token-1"

// newFleetCloud mounts a console as the cloud does, behind the real
// signature check: every store's secret is "k" unless secrets names another.
func newFleetCloud(t *testing.T, cfg Config, secrets map[string]string) (*Console, string) {
	t.Helper()
	if cfg.AdminToken == "" {
		cfg.AdminToken = testAdmin
	}
	cfg.SecretFor = func(store string) string {
		if v, ok := secrets[store]; ok {
			return v
		}
		return "k"
	}
	done := make(chan struct{})
	cfg.Done = done
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c, serve(t, c, cloudkit.Verifier{SecretFor: cfg.SecretFor, Now: time.Now, Refused: func(string) {}}.Signed, done)
}

func serve(t *testing.T, c *Console, storeAPI func(http.Handler) http.Handler, done chan struct{}) string {
	t.Helper()
	mux := http.NewServeMux()
	c.Mount(mux, storeAPI)
	hs := httptest.NewServer(mux)
	t.Cleanup(func() { close(done); hs.Close(); c.Close() })
	return hs.URL
}

// storeReq is a request signed by store as the daemon signs it.
func storeReq(t *testing.T, method, url, store, secret string, body []byte, at time.Time) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(ledger.HeaderStore, store)
	req.Header.Set(ledger.HeaderSignature, ledger.Sign(secret, at, ledger.SignedPayload(body, req.URL.RequestURI())))
	return req
}

func do(t *testing.T, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func putHealthReq(t *testing.T, base, store string, h fleetmsg.Health) (*http.Response, []byte) {
	t.Helper()
	b, _ := json.Marshal(h)
	return do(t, storeReq(t, "PUT", base+"/v1/stores/"+store+"/health", store, "k", b, time.Now()))
}

func adminPut(t *testing.T, base, store, token, body string) (*http.Response, map[string]string) {
	t.Helper()
	req, _ := http.NewRequest("PUT", base+"/v1/admin/stores/"+store+"/config", strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, b := do(t, req)
	var m map[string]string
	json.Unmarshal(b, &m)
	return resp, m
}

func TestHealthKeepsTheLatestPerStore(t *testing.T) {
	s, base := newFleetCloud(t, Config{}, nil)
	h := fleetmsg.Health{At: time.Now().UTC(), Store: "s1", Version: "1.2.3", Ready: true,
		Alerts: []fleetmsg.Alert{{Kind: fleetmsg.AlertScaleFault, Subject: "S1", Since: time.Now().UTC(), Message: "no frames"}}}
	if resp, b := putHealthReq(t, base, "s1", h); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("PUT health: %d %s", resp.StatusCode, b)
	}
	h.Alerts = nil
	h.Version = "1.2.4"
	if resp, b := putHealthReq(t, base, "s1", h); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("PUT health: %d %s", resp.StatusCode, b)
	}
	v := s.View(0)
	if len(v.Stores) != 1 || v.Stores[0].Version != "1.2.4" || len(v.Stores[0].Alerts) != 0 || v.Stores[0].ReceivedAt == nil {
		t.Fatalf("fleet view %+v", v)
	}
	if again := s.View(v.Rev); len(again.Stores) != 0 {
		t.Fatalf("nothing changed since rev %d, got %+v", v.Rev, again.Stores)
	}
	if all := s.View(v.Rev + 100); len(all.Stores) != 1 {
		t.Fatalf("a rev from before a restart got %d stores, want all", len(all.Stores))
	}

	// Refusals: forged, another store's body, not JSON, oversize.
	b, _ := json.Marshal(h)
	if resp, _ := do(t, storeReq(t, "PUT", base+"/v1/stores/s1/health", "s1", "wrong", b, time.Now())); resp.StatusCode != 401 {
		t.Errorf("forged health: %d", resp.StatusCode)
	}
	if resp, _ := do(t, storeReq(t, "PUT", base+"/v1/stores/s1/health", "s1", "k", b, time.Now().Add(-10*time.Minute))); resp.StatusCode != 401 {
		t.Errorf("stale health: %d", resp.StatusCode)
	}
	if resp, body := putHealthReq(t, base, "s2", h); resp.StatusCode != 400 || !strings.Contains(string(body), "the path names") {
		t.Errorf("store s1's snapshot on s2's path: %d %s", resp.StatusCode, body)
	}
	if resp, _ := do(t, storeReq(t, "PUT", base+"/v1/stores/s1/health", "s1", "k", []byte("{not json"), time.Now())); resp.StatusCode != 400 {
		t.Errorf("garbage health: %d", resp.StatusCode)
	}
	big := []byte(`{"store":"s1","version":"` + strings.Repeat("x", maxHealthBody) + `"}`)
	if resp, _ := do(t, storeReq(t, "PUT", base+"/v1/stores/s1/health", "s1", "k", big, time.Now())); resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("oversize health: %d", resp.StatusCode)
	}
	if st, _ := s.Stats(); st.HealthReceived != 2 || st.HealthRejected != 2 || st.HealthP99MS <= 0 || st.HealthP50MS > st.HealthP99MS {
		t.Errorf("counters %+v", st)
	}
	if v := s.View(0); v.Stores[0].Version != "1.2.4" {
		t.Errorf("a refused snapshot replaced the latest: %+v", v.Stores[0])
	}
}

func TestDesiredConfigAdminAndSignedReply(t *testing.T) {
	_, base := newFleetCloud(t, Config{}, map[string]string{"s1": "k1"})
	doc := `{"version": 3, "config": {"devices": {"admission": "open"}, "orders": {"payment_ttl": "5m"}}}`

	if resp, _ := adminPut(t, base, "s1", "", doc); resp.StatusCode != 401 {
		t.Fatalf("no token: %d", resp.StatusCode)
	}
	if resp, _ := adminPut(t, base, "s1", "guess", doc); resp.StatusCode != 401 {
		t.Fatalf("wrong token: %d", resp.StatusCode)
	}
	if resp, m := adminPut(t, base, "s1", testAdmin, `{"version": 3, "config": {"upstream": {"url": "http://evil"}}}`); resp.StatusCode != 400 || m["key"] != "upstream" {
		t.Fatalf("restart-only key: %d %v", resp.StatusCode, m)
	}
	if resp, m := adminPut(t, base, "s1", testAdmin, `{"version": 3, "config": {"doors": [{"id": "D1", "secret": "x", "policy": "sideways"}]}}`); resp.StatusCode != 400 || m["key"] != "doors[0].policy" {
		t.Fatalf("bad value: %d %v", resp.StatusCode, m)
	}
	if resp, m := adminPut(t, base, "s1", testAdmin, doc); resp.StatusCode != 200 {
		t.Fatalf("good document: %d %v", resp.StatusCode, m)
	}
	if resp, m := adminPut(t, base, "s1", testAdmin, strings.Replace(doc, `"version": 3`, `"version": 3`, 1)); resp.StatusCode != 409 || m["key"] != "version" {
		t.Fatalf("same version again: %d %v", resp.StatusCode, m)
	}

	get := func(inm string, secret string) (*http.Response, []byte) {
		req := storeReq(t, "GET", base+"/v1/stores/s1/config", "s1", secret, nil, time.Now())
		if inm != "" {
			req.Header.Set("If-None-Match", inm)
		}
		return do(t, req)
	}
	resp, body := get("", "k1")
	if resp.StatusCode != 200 || resp.Header.Get("ETag") != `"3"` {
		t.Fatalf("GET config: %d %s %q", resp.StatusCode, body, resp.Header.Get("ETag"))
	}
	if err := ledger.Verify("k1", resp.Header.Get(ledger.HeaderSignature), body, time.Now()); err != nil {
		t.Fatalf("reply signature: %v", err)
	}
	d, parsed, err := fleetmsg.ParseDesired(body)
	if err != nil || d.Version != 3 || *parsed.Devices.Admission != "open" || parsed.Orders.PaymentTTL.Duration != 5*time.Minute {
		t.Fatalf("served document %s: %v", body, err)
	}
	if resp, _ := get(`"3"`, "k1"); resp.StatusCode != 304 {
		t.Fatalf("If-None-Match current: %d", resp.StatusCode)
	}
	if resp, _ := get(`"2"`, "k1"); resp.StatusCode != 200 {
		t.Fatalf("If-None-Match older: %d", resp.StatusCode)
	}
	if resp, _ := get("", "k"); resp.StatusCode != 401 {
		t.Fatalf("GET signed with the wrong store secret: %d", resp.StatusCode)
	}
	req := storeReq(t, "GET", base+"/v1/stores/s2/config", "s2", "k", nil, time.Now())
	if resp, _ := do(t, req); resp.StatusCode != 404 {
		t.Fatalf("store without a document: %d", resp.StatusCode)
	}
}

func TestAdminOffWithoutToken(t *testing.T) {
	s, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	base := serve(t, s, func(h http.Handler) http.Handler { return h }, make(chan struct{}))
	resp, m := adminPut(t, base, "s1", "", `{"version": 1, "config": {}}`)
	if resp.StatusCode != 403 || !strings.Contains(m["detail"], "--admin-token") {
		t.Fatalf("admin with no token configured: %d %v", resp.StatusCode, m)
	}
}

func TestConfigFaults(t *testing.T) {
	s, base := newFleetCloud(t, Config{}, nil)
	adminPut(t, base, "s1", testAdmin, `{"version": 1, "config": {"devices": {"admission": "open"}}}`)
	adminPut(t, base, "s1", testAdmin, `{"version": 2, "config": {"devices": {"admission": "pairing"}}}`)
	setFault := func(mode string) {
		t.Helper()
		req, _ := http.NewRequest("PUT", base+"/v1/admin/config-fault", strings.NewReader(`{"mode":"`+mode+`"}`))
		req.Header.Set("Authorization", "Bearer "+testAdmin)
		if resp, b := do(t, req); resp.StatusCode != 200 {
			t.Fatalf("set fault %q: %d %s", mode, resp.StatusCode, b)
		}
	}
	timeout := 500 * time.Millisecond
	get := func() (*http.Response, []byte, error) {
		req := storeReq(t, "GET", base+"/v1/stores/s1/config", "s1", "k", nil, time.Now())
		resp, err := (&http.Client{Timeout: timeout}).Do(req)
		if err != nil {
			return nil, nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp, b, err
	}
	verify := func(resp *http.Response, body []byte) error {
		return ledger.Verify("k", resp.Header.Get(ledger.HeaderSignature), body, time.Now())
	}

	setFault(ConfigFaultHang)
	if _, _, err := get(); err == nil || !errors.Is(err, errTimeout(err)) {
		t.Errorf("hang: %v", err)
	}
	timeout = 20 * time.Second
	setFault(ConfigFaultGarbage)
	if resp, b, err := get(); err != nil {
		t.Fatalf("garbage: %v", err)
	} else if resp.StatusCode != 200 || verify(resp, b) != nil || json.Valid(b) {
		t.Errorf("garbage: %d valid-json=%v", resp.StatusCode, json.Valid(b))
	}
	setFault(ConfigFaultOversize)
	if resp, b, err := get(); err != nil {
		t.Fatalf("oversize: %v", err)
	} else if resp.StatusCode != 200 || verify(resp, b) != nil || len(b) < 10<<20 || !json.Valid(b) {
		t.Errorf("oversize: %d, %d bytes", resp.StatusCode, len(b))
	}
	setFault(ConfigFaultUnsigned)
	if resp, _, _ := get(); resp.StatusCode != 200 || resp.Header.Get(ledger.HeaderSignature) != "" {
		t.Errorf("unsigned: %d %q", resp.StatusCode, resp.Header.Get(ledger.HeaderSignature))
	}
	setFault(ConfigFaultForged)
	if resp, b, _ := get(); resp.StatusCode != 200 || !errors.Is(verify(resp, b), ledger.ErrBadSignature) {
		t.Errorf("forged: %d %v", resp.StatusCode, verify(resp, b))
	}
	setFault(ConfigFaultStale)
	if resp, b, _ := get(); resp.StatusCode != 200 || !errors.Is(verify(resp, b), ledger.ErrStaleSignature) {
		t.Errorf("stale: %d %v", resp.StatusCode, verify(resp, b))
	}
	setFault(ConfigFaultOlder)
	if resp, b, _ := get(); resp.StatusCode != 200 || verify(resp, b) != nil || !strings.Contains(string(b), `"version":1`) {
		t.Errorf("older: %d %s", resp.StatusCode, b)
	}
	setFault("")
	if resp, b, _ := get(); resp.StatusCode != 200 || verify(resp, b) != nil || !strings.Contains(string(b), `"version":2`) {
		t.Errorf("no fault: %d %s", resp.StatusCode, b)
	}
	req, _ := http.NewRequest("PUT", base+"/v1/admin/config-fault", strings.NewReader(`{"mode":"explode"}`))
	req.Header.Set("Authorization", "Bearer "+testAdmin)
	if resp, _ := do(t, req); resp.StatusCode != 400 {
		t.Errorf("unknown fault mode: %d", resp.StatusCode)
	}
	if _, err := New(Config{Fault: "explode"}); err == nil {
		t.Error("New accepted an unknown config fault")
	}
	if st, _ := s.Stats(); st.ConfigFaulted == 0 {
		t.Errorf("faults not counted: %+v", st)
	}
}

// errTimeout returns err itself when it is a client timeout, so errors.Is
// passes only for timeouts.
func errTimeout(err error) error {
	var te interface{ Timeout() bool }
	if errors.As(err, &te) && te.Timeout() {
		return err
	}
	return errors.New("not a timeout")
}

func TestFleetStateSurvivesARestart(t *testing.T) {
	dir := t.TempDir()
	s, base := newFleetCloud(t, Config{DataDir: dir}, nil)
	putHealthReq(t, base, "s1", fleetmsg.Health{At: time.Now().UTC(), Version: "9.9"})
	if resp, m := adminPut(t, base, "s1", testAdmin, `{"version": 4, "config": {"doors": []}}`); resp.StatusCode != 200 {
		t.Fatal(resp.StatusCode, m)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, base2 := newFleetCloud(t, Config{DataDir: dir}, nil)
	v := s2.View(0)
	if len(v.Stores) != 1 || v.Stores[0].Version != "9.9" || v.Stores[0].DesiredVersion != 4 {
		t.Fatalf("after restart: %+v", v.Stores)
	}
	if resp, m := adminPut(t, base2, "s1", testAdmin, `{"version": 4, "config": {}}`); resp.StatusCode != 409 {
		t.Fatalf("version check forgot the stored version: %d %v", resp.StatusCode, m)
	}
}

func TestFleetPageInlinesEveryStore(t *testing.T) {
	_, base := newFleetCloud(t, Config{HealthInterval: time.Second}, nil)
	putHealthReq(t, base, "s1", fleetmsg.Health{At: time.Now().UTC(), Version: "</script><b>x"})
	resp, err := http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	page := string(b)
	if resp.StatusCode != 200 || !strings.Contains(page, `"id":"s1"`) || !strings.Contains(page, `"offline_after_s":3`) {
		t.Fatalf("page: %d %.300s", resp.StatusCode, page)
	}
	if strings.Contains(page, "</script><b>") {
		t.Fatal("store text ends the script element")
	}
	for path, want := range map[string]int{"/stores/s1/health": 200, "/stores/nobody/health": 404} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want || (want == 200 && !strings.Contains(string(b), `"received_at"`)) {
			t.Errorf("GET %s: %d %s", path, resp.StatusCode, b)
		}
	}
	resp, err = http.Get(base + "/fleet.json?since=x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("since=x: %d", resp.StatusCode)
	}
}

// The store's own word on its version bounds the admin's: a memory-only
// console (a restarted cloud) refuses a version the store would refuse as
// older, learnt from health or from a config poll's If-None-Match.
func TestDesiredVersionAboveTheStoresApplied(t *testing.T) {
	_, base := newFleetCloud(t, Config{}, nil)
	admin := func(method, store, body string) (int, string) {
		req, _ := http.NewRequest(method, base+"/v1/admin/stores/"+store+"/config", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+testAdmin)
		resp, b := do(t, req)
		return resp.StatusCode, string(b)
	}
	if code, body := admin("PUT", "s1", `{"version": 1, "config": {}}`); code != 200 || !strings.Contains(body, "has not said which version it runs") {
		t.Fatalf("before the store said anything: %d %s", code, body)
	}
	putHealthReq(t, base, "s2", fleetmsg.Health{At: time.Now(), Store: "s2", Config: fleetmsg.ConfigStatus{Version: 7, Source: fleetmsg.SourceRemote}})
	if code, body := admin("PUT", "s2", `{"version": 7, "config": {}}`); code != 409 || !strings.Contains(body, "use 8 or above") {
		t.Fatalf("version 7 for a store on 7: %d %s", code, body)
	}
	req := storeReq(t, "GET", base+"/v1/stores/s3/config", "s3", "k", nil, time.Now())
	req.Header.Set("If-None-Match", `"4"`)
	if resp, _ := do(t, req); resp.StatusCode != 404 {
		t.Fatalf("config poll: %d", resp.StatusCode)
	}
	if code, body := admin("PUT", "s3", `{"version": 2, "config": {}}`); code != 409 || !strings.Contains(body, "which store s3 runs") {
		t.Fatalf("version 2 for a store polling with version 4: %d %s", code, body)
	}
	if code, body := admin("PUT", "s3", `{"version": 5, "config": {"doors": [{"id": "a", "secret": "x", "policy": "entry"}]}}`); code != 200 || !strings.Contains(body, `"store_applied":4`) {
		t.Fatalf("version 5: %d %s", code, body)
	}
	// A PATCH edits that list and picks the next version.
	if code, body := admin("PATCH", "s3", `{"doors": {"add": [{"id": "b", "secret": "y", "policy": "exit"}], "remove": ["a"]}}`); code != 200 ||
		!strings.Contains(body, `"version":6`) || !strings.Contains(body, `"removes":["door a"]`) {
		t.Fatalf("PATCH: %d %s", code, body)
	}
	if code, body := admin("PATCH", "s3", `{"doors": {"drop": ["b"]}}`); code != 400 || !strings.Contains(body, "bad_patch") {
		t.Fatalf("PATCH with an unknown field: %d %s", code, body)
	}
}
