package webauth

import (
	"crypto/subtle"
	_ "embed"
	"encoding/base64"
	"html/template"
	"net/http"
	"strings"

	"github.com/skip2/go-qrcode"
)

//go:embed signin.html
var signInHTML string

var signInTmpl = template.Must(template.New("signin").Parse(signInHTML))

// mountSignIn adds the routes that start and end a session:
//
//	GET  /signin          the form (where GET / sends a browser without a session)
//	POST /signin          token=<admin token> → session cookie, back to /
//	GET  /signin/{code}   a one-time link (storebox login-link) → session
//	POST /signout         ends the session, server-side too
//	GET  /api/v1/session  whether this browser is signed in (no data)
//	POST /api/v1/login-links  (admin) a new one-time link, with its QR code
func (g *Gate) mountSignIn() {
	g.HandleOpen("GET /signin", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.signInPage(w, r, http.StatusOK, "")
	}))
	g.HandleOpen("POST /signin", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !sameOrigin(r) {
			g.signInPage(w, r, http.StatusForbidden, "Sign in from this box's own page.")
			return
		}
		if g.guesses.blocked(r) {
			g.signInPage(w, r, http.StatusTooManyRequests, "Too many wrong tokens from this address; wait a minute.")
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
		tok := strings.TrimSpace(r.PostFormValue("token"))
		if tok == "" || len(g.auth.token) == 0 || subtle.ConstantTimeCompare([]byte(tok), g.auth.token) != 1 {
			g.guesses.failed(r)
			g.cfg.Log.Warn("sign-in refused: wrong admin token", "from", r.RemoteAddr)
			g.signInPage(w, r, http.StatusUnauthorized, "That token was not accepted. Paste the contents of admin.token from the data directory.")
			return
		}
		g.auth.startSession(w, r)
		g.cfg.Log.Info("signed in with the admin token", "from", r.RemoteAddr)
		http.Redirect(w, r, "/", http.StatusSeeOther)
	}))
	g.HandleOpen("GET /signin/{code}", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Referrer-Policy", "no-referrer")
		if !g.auth.useLink(r.PathValue("code")) {
			g.signInPage(w, r, http.StatusUnauthorized, "This sign-in link was already used or has expired. Print a new one with `storebox login-link`, or paste the admin token.")
			return
		}
		g.auth.startSession(w, r)
		g.cfg.Log.Info("signed in with a one-time link", "from", r.RemoteAddr)
		http.Redirect(w, r, "/", http.StatusSeeOther)
	}))
	g.HandleOpen("POST /signout", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if sameOrigin(r) {
			// The cookie is dead whatever the browser keeps.
			if err := g.auth.endSessionOf(r); err != nil {
				g.cfg.Log.Warn("signed out; a restart will not remember it", "err", err)
			}
			endSession(w)
		}
		http.Redirect(w, r, "/signin", http.StatusSeeOther)
	}))
	g.HandleOpen("GET /api/v1/session", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		exp, ok := g.auth.session(r)
		out := map[string]any{"signed_in": ok, "read_auth": g.auth.readAuth, "expires_at": nil}
		if ok {
			out["expires_at"] = exp.UTC()
		}
		w.Header().Set("Cache-Control", "no-store")
		g.cfg.JSON(w, http.StatusOK, out)
	}))
	g.mux.HandleFunc("POST /api/v1/login-links", g.Admin(func(w http.ResponseWriter, r *http.Request) {
		code, exp, err := g.auth.newLink()
		if err != nil {
			g.error(w, http.StatusTooManyRequests, err.Error())
			return
		}
		path := "/signin/" + code
		url := g.cfg.LANBase() + path
		png, err := qrcode.Encode(url, qrcode.Medium, 256)
		if err != nil {
			g.error(w, http.StatusInternalServerError, "QR code: "+err.Error())
			return
		}
		g.cfg.JSON(w, http.StatusOK, map[string]any{"url": url, "path": path, "expires_at": exp.UTC(),
			"qr_png": "data:image/png;base64," + base64.StdEncoding.EncodeToString(png)})
	}))
}

func (g *Gate) signInPage(w http.ResponseWriter, r *http.Request, status int, msg string) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	g.cfg.PageHeaders(h)
	w.WriteHeader(status)
	_, signedIn := g.auth.session(r)
	signInTmpl.Execute(w, map[string]any{"Error": msg, "SignedIn": signedIn, "Expired": r.URL.Query().Get("expired") != ""})
}
