package fleetconsole

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"net/http"

	"github.com/storebox/storebox/sync/cloudref/cloudkit"
)

//go:embed fleetpage.html
var fleetPage []byte

// fleetPageParts is the page cut where the first snapshot goes, so a first
// load is one request to a full table.
var fleetPageHead, fleetPageTail = func() ([]byte, []byte) {
	h, t, ok := bytes.Cut(fleetPage, []byte("/*FLEET-DATA*/"))
	if !ok {
		panic("fleetpage.html has no /*FLEET-DATA*/ marker")
	}
	return h, t
}()

// getFleetPage serves the fleet page with every store inline. json.Marshal
// escapes <, > and &, so store-supplied text cannot end the script element.
func (c *Console) getFleetPage(w http.ResponseWriter, r *http.Request) {
	data, err := json.Marshal(c.View(0))
	if err != nil {
		cloudkit.WriteErr(w, http.StatusInternalServerError, "encode", err.Error())
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src data:; script-src 'unsafe-inline'; style-src 'unsafe-inline'")
	w.Write(fleetPageHead)
	w.Write(data)
	w.Write(fleetPageTail)
}
