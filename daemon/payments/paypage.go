package payments

import (
	"context"
	"html/template"
	"net/http"
	"slices"
	"strings"
)

// PayPageOrders is what the test provider's pay page needs of the order
// service.
type PayPageOrders interface {
	// PayPageOrder returns order oid as the page shows it, with the
	// payments provider holds for it.
	PayPageOrder(oid, provider string) (PageOrder, bool, error)
	// PollRef asks the provider at once about the payment ref of order oid
	// (a button press) instead of waiting for the next poll.
	PollRef(ctx context.Context, oid, ref string) error
}

// PageOrder is an order as the pay page shows it.
type PageOrder struct {
	OID         string
	AmountTotal int64
	Status      string
	Lines       []PageLine
	// Refs are the order's payments at the provider; OpenRef is the one a
	// customer can still pay ("" when there is nothing to pay).
	Refs    []string
	OpenRef string
}

// PageLine is one line of a PageOrder.
type PageLine struct {
	GID, Name            string
	Qty, WeightG, Amount int64
}

var payPage = template.Must(template.New("pay").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>TEST payment {{.O.OID}}</title>
<style>body{font-family:sans-serif;max-width:32em;margin:2em auto}
.banner{background:#c00;color:#fff;padding:.5em;font-weight:bold}
button{font-size:1.4em;padding:.4em 1.2em;margin:.3em}</style></head>
<body><p class="banner">TEST MODE — no money moves. payments.provider = "test"</p>
<h1>Order {{.O.OID}}</h1>
<p>Amount: <b>{{.O.AmountTotal}}</b> (minor units) · status: <b id="status">{{.O.Status}}</b></p>
<ul>{{range .O.Lines}}<li>{{.Name}} ({{.GID}}) {{if .WeightG}}{{.WeightG}} g{{else}}× {{.Qty}}{{end}} = {{.Amount}}</li>{{end}}</ul>
{{if .Ref}}<form method="post"><input type="hidden" name="ref" value="{{.Ref}}">
<button name="result" value="paid">paid</button>
<button name="result" value="failed">failed</button></form>
{{else}}<p>Nothing to pay here.</p>{{end}}
</body></html>`))

// PayPage serves the test provider's pay page under /pay/test/{oid}:
// GET shows the order, POST result=paid|failed settles its open test
// payment. It answers 404 unless p is the test provider.
func PayPage(p Provider, orders PayPageOrders) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tp, ok := p.(*TestProvider)
		if !ok {
			http.Error(w, "the test payment provider is not configured (payments.provider = \"test\")", http.StatusNotFound)
			return
		}
		i := strings.LastIndex(r.URL.Path, "/pay/test/")
		if i < 0 {
			http.NotFound(w, r)
			return
		}
		oid := strings.Trim(r.URL.Path[i+len("/pay/test/"):], "/")
		o, found, err := orders.PayPageOrder(oid, tp.Name())
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		if !found {
			http.Error(w, "no such order", http.StatusNotFound)
			return
		}
		switch r.Method {
		case http.MethodGet, http.MethodHead:
		case http.MethodPost:
			ref, result := r.FormValue("ref"), r.FormValue("result")
			if result != "paid" && result != "failed" {
				http.Error(w, "result must be paid or failed", http.StatusBadRequest)
				return
			}
			if ref == "" || !slices.Contains(o.Refs, ref) {
				http.Error(w, "that payment is not part of this order", http.StatusBadRequest)
				return
			}
			if _, err := tp.Settle(ref, result == "paid"); err != nil {
				http.Error(w, err.Error(), http.StatusConflict)
				return
			}
			if err := orders.PollRef(r.Context(), oid, ref); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			http.Redirect(w, r, r.URL.Path, http.StatusSeeOther)
			return
		default:
			w.Header().Set("Allow", "GET, POST")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_ = payPage.Execute(w, map[string]any{"O": o, "Ref": o.OpenRef})
	})
}
