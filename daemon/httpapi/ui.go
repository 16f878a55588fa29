package httpapi

import (
	"embed"
	"io/fs"
	"net/http"
)

// ui is the technician's status page: plain HTML, CSS and JS, no build
// step and nothing fetched from elsewhere, so it works on a store LAN with
// no internet.
//
//go:embed ui
var ui embed.FS

// PageOnlineMax caps the online sessions sent to the status page; the
// page shows the count of all of them (the sum of "sessions"). A store
// with 10,000 e-labels would otherwise push megabytes a second to a phone.
const PageOnlineMax = 200

// pagePattern is the status page's route; without a session it sends the
// browser to the sign-in form.
const pagePattern = "GET /{$}"

// UI serves the status page's files: "/" is index.html, "/ui/..." the rest.
func UI() http.Handler {
	sub, err := fs.Sub(ui, "ui")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	files := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The files change only with the binary; revalidating is cheap on a LAN
		// and means an upgraded daemon never serves a stale script.
		w.Header().Set("Cache-Control", "no-cache")
		setPageHeaders(w.Header())
		if r.URL.Path == "/" {
			http.ServeFileFS(w, r, sub, "index.html")
			return
		}
		http.StripPrefix("/ui", files).ServeHTTP(w, r)
	})
}

func setPageHeaders(h http.Header) {
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'")
}

// MountStatusPage adds the status page (GET /, GET /ui/...) and its live
// feed (GET /api/v1/events) to the server. snapshot builds the status to
// show; it should cap long lists (see PageOnlineMax).
func (s *Server) MountStatusPage(snapshot func() any) *Events {
	ev := &Events{Snapshot: snapshot, Volatile: StatusVolatile, Log: s.Log}
	page := UI()
	s.Mux.Handle(pagePattern, page)
	s.HandleOpen("GET /ui/", page) // static files, no data
	s.Mux.Handle("GET /api/v1/events", ev)
	s.onShutdown = append(s.onShutdown, ev.Close)
	return ev
}
