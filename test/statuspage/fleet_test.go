package statuspage

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/storebox/storebox/protocol/ledger"
	"github.com/storebox/storebox/test/harness"
)

// The page shows the applied remote configuration's version and source and
// the last refused document.
func TestStatusPageShowsTheRemoteConfiguration(t *testing.T) {
	const secret = "page-secret"
	var mu sync.Mutex
	doc := `{"version": 3, "config": {"devices": {"admission": "open"}}}`
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != "GET" || !strings.HasSuffix(r.URL.Path, "/config") {
			io.Copy(io.Discard, r.Body)
			w.WriteHeader(204)
			return
		}
		mu.Lock()
		body := doc
		mu.Unlock()
		w.Header().Set(ledger.HeaderSignature, ledger.Sign(secret, time.Now(), []byte(body)))
		io.WriteString(w, body)
	}))
	defer hs.Close()
	b := newBrowser(t, 40*time.Second)
	d := harness.New(t, fmt.Sprintf("[upstream]\nurl = %q\nsecret = %q\n[fleet]\nconfig_interval = \"1s\"\n", hs.URL, secret))
	d.Start()
	b.signIn(t, d.HTTPAddr, d.AdminToken())
	b.waitJS(t, "the remote version", `(document.getElementById("config-source") || {}).textContent?.startsWith("remote version 3, applied")`)
	mu.Lock()
	doc = `{"version": 4, "config": {"mqtt": {"listen": ":1"}}}`
	mu.Unlock()
	b.waitJS(t, "the refusal", `(document.getElementById("config-refused") || {}).textContent?.includes("version 4") && document.getElementById("config-refused").textContent.includes("mqtt: cannot be set remotely")`)
	if errs := b.Errors(); len(errs) > 0 {
		t.Errorf("page errors:\n%s", strings.Join(errs, "\n"))
	}
}
