package statuspage

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/storebox/storebox/drivers/printer/printersim"
	"github.com/storebox/storebox/test/harness"
)

// The Printers section shows each printer's state and queue, a fault in
// red, and its "Test page" button prints a test page for a signed-in admin.
func TestStatusPagePrinters(t *testing.T) {
	b := newBrowser(t, 60*time.Second)
	sim := printersim.New(simplifiedchinese.GB18030)
	if err := sim.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { sim.Serve(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	d := harness.New(t, fmt.Sprintf("[[printers]]\nid = \"front\"\nconnect = \"tcp://%s\"\nterminals = [\"*\"]\n", sim.Addr()))
	d.Start()
	b.signIn(t, d.HTTPAddr, d.AdminToken())
	row := `Array.from(document.querySelectorAll("#printers-table tbody tr")).find(tr => tr.dataset.printer === "front")`
	b.waitJS(t, "the printer's row, ok", row+`?.querySelector("td.good")?.textContent === "ok"`)

	// Out of paper: the test page waits in the queue and the row says why.
	sim.SetPaper(false)
	eval[bool](t, b, row+`.querySelector("button.test-page").click() || true`)
	b.waitJS(t, "the queued message", `document.getElementById("action-msg").textContent.includes("Test page queued on front")`)
	b.waitJS(t, "paper_end in red with one queued", row+`?.querySelector("td.bad")?.textContent === "paper_end" && `+row+`.children[2].textContent === "1"`)
	b.waitJS(t, "the fault count", `document.getElementById("printers-count").textContent === "1 in fault"`)
	if n := len(sim.Receipts()); n != 0 {
		t.Fatalf("%d receipts printed without paper", n)
	}
	b.screenshot(t, "storebox-statuspage-printers.png")

	sim.SetPaper(true)
	wctx, wcancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer wcancel()
	rs, err := sim.WaitReceipts(wctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(rs[0].Text(), "TEST PAGE") {
		t.Fatalf("printed:\n%s", rs[0].Text())
	}
	b.waitJS(t, "ok again, queue empty", row+`?.querySelector("td.good")?.textContent === "ok" && `+row+`.children[2].textContent === "0"`)
	if errs := b.Errors(); len(errs) > 0 {
		t.Errorf("page errors:\n%s", strings.Join(errs, "\n"))
	}
}
