package httpapi

import (
	"crypto/subtle"
	_ "embed"
	"encoding/base64"
	"html/template"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/skip2/go-qrcode"
)

// pagePattern is the status page's route; without a session it sends the
// browser to the sign-in form.
const pagePattern = "GET /{$}"

//go:embed signin.html
var signInHTML string

var signInTmpl = template.Must(template.New("signin").Parse(signInHTML))

// mountSignIn adds the routes that start and end a session:
//
//	GET  /signin          the form (where GET / sends a browser without a session)
//	POST /signin          token=<admin token> → session cookie, back to /
//	GET  /signin/{code}   a one-time link (storebox login-link) → session
//	POST /signout         ends the session
//	GET  /api/v1/session  whether this browser is signed in (no data)
//	POST /api/v1/login-links  (admin) a new one-time link, with its QR code
func (s *Server) mountSignIn() {
	s.HandleOpen("GET /signin", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.signInPage(w, r, http.StatusOK, "")
	}))
	s.HandleOpen("POST /signin", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !sameOrigin(r) {
			s.signInPage(w, r, http.StatusForbidden, "Sign in from this box's own page.")
			return
		}
		if s.guesses.blocked(r) {
			s.signInPage(w, r, http.StatusTooManyRequests, "Too many wrong tokens from this address; wait a minute.")
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
		tok := strings.TrimSpace(r.PostFormValue("token"))
		if tok == "" || len(s.auth.token) == 0 || subtle.ConstantTimeCompare([]byte(tok), s.auth.token) != 1 {
			s.guesses.failed(r)
			s.Log.Warn("sign-in refused: wrong admin token", "from", r.RemoteAddr)
			s.signInPage(w, r, http.StatusUnauthorized, "That token was not accepted. Paste the contents of admin.token from the data directory.")
			return
		}
		s.auth.startSession(w, r)
		s.Log.Info("signed in with the admin token", "from", r.RemoteAddr)
		http.Redirect(w, r, "/", http.StatusSeeOther)
	}))
	s.HandleOpen("GET /signin/{code}", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Referrer-Policy", "no-referrer")
		if !s.auth.useLink(r.PathValue("code")) {
			s.signInPage(w, r, http.StatusUnauthorized, "This sign-in link was already used or has expired. Print a new one with `storebox login-link`, or paste the admin token.")
			return
		}
		s.auth.startSession(w, r)
		s.Log.Info("signed in with a one-time link", "from", r.RemoteAddr)
		http.Redirect(w, r, "/", http.StatusSeeOther)
	}))
	s.HandleOpen("POST /signout", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if sameOrigin(r) {
			endSession(w)
		}
		http.Redirect(w, r, "/signin", http.StatusSeeOther)
	}))
	s.HandleOpen("GET /api/v1/session", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		exp, ok := s.auth.session(r)
		out := map[string]any{"signed_in": ok, "read_auth": s.auth.readAuth, "expires_at": nil}
		if ok {
			out["expires_at"] = exp.UTC()
		}
		w.Header().Set("Cache-Control", "no-store")
		JSON(w, http.StatusOK, out)
	}))
	s.Mux.HandleFunc("POST /api/v1/login-links", s.Admin(func(w http.ResponseWriter, r *http.Request) {
		code, exp, err := s.auth.newLink()
		if err != nil {
			Error(w, http.StatusTooManyRequests, err.Error())
			return
		}
		path := "/signin/" + code
		url := s.LANBase() + path
		png, err := qrcode.Encode(url, qrcode.Medium, 256)
		if err != nil {
			Error(w, http.StatusInternalServerError, "QR code: "+err.Error())
			return
		}
		JSON(w, http.StatusOK, map[string]any{"url": url, "path": path, "expires_at": exp.UTC(),
			"qr_png": "data:image/png;base64," + base64.StdEncoding.EncodeToString(png)})
	}))
}

func (s *Server) signInPage(w http.ResponseWriter, r *http.Request, status int, msg string) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	setPageHeaders(h)
	w.WriteHeader(status)
	_, signedIn := s.auth.session(r)
	signInTmpl.Execute(w, map[string]any{"Error": msg, "SignedIn": signedIn, "Expired": r.URL.Query().Get("expired") != ""})
}

// LANBase is the server as a phone on the LAN reaches it: the configured
// host, or this machine's first non-loopback IPv4 address, with the bound
// port.
func (s *Server) LANBase() string {
	host, port, _ := net.SplitHostPort(s.Listen)
	if ta, ok := s.Addr().(*net.TCPAddr); ok {
		port = strconv.Itoa(ta.Port)
	}
	return LANBase(host, port)
}

// LANBase is http://host:port with an unspecified host replaced by this
// machine's first non-loopback IPv4 address (127.0.0.1 when it has none).
func LANBase(host, port string) string {
	if ip := net.ParseIP(host); host != "" && (ip == nil || !ip.IsUnspecified()) {
		return "http://" + net.JoinHostPort(host, port)
	}
	ifaces, _ := net.Interfaces()
	for _, ifc := range ifaces {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, _ := ifc.Addrs()
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil {
				return "http://" + net.JoinHostPort(ipn.IP.String(), port)
			}
		}
	}
	return "http://" + net.JoinHostPort("127.0.0.1", port)
}
