package uploader

import (
	"encoding/json"
	"net/http"
	"time"
)

// Progress is one line of POST /api/v1/sync/now, served as JSON Lines
// (Content-Type application/x-ndjson): a line when the drain starts, one
// after each batch, and a last line with done=true, carrying error when the
// drain failed. The HTTP status is 200 once streaming has begun; read the
// last line.
type Progress struct {
	Sent      int    `json:"sent"`
	Remaining int    `json:"remaining"`
	Done      bool   `json:"done,omitempty"`
	Error     string `json:"error,omitempty"`
}

// StatusHandler serves GET /api/v1/sync: the State as JSON.
func (u *Uploader) StatusHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(u.Status())
	})
}

// SyncNowHandler serves POST /api/v1/sync/now (see Progress). Progress
// lines are throttled to about ten a second; the last one always comes.
func (u *Uploader) SyncNowHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-ndjson")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
		rc := http.NewResponseController(w)
		enc := json.NewEncoder(w)
		var last Progress
		var lastAt time.Time
		err := u.DrainNow(r.Context(), func(sent, remaining int) {
			last = Progress{Sent: sent, Remaining: remaining}
			if time.Since(lastAt) < 100*time.Millisecond {
				return
			}
			lastAt = time.Now()
			enc.Encode(last)
			rc.Flush()
		})
		last.Done = true
		if err != nil {
			last.Error = err.Error()
		}
		enc.Encode(last)
		rc.Flush()
	})
}
