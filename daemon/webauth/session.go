package webauth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Session and sign-in link lifetimes (PROTOCOL.md §5).
const (
	SessionTTL  = 12 * time.Hour
	LinkTTL     = 5 * time.Minute
	maxLinks    = 64
	cookieName  = "storebox_session"
	sessionVers = "v1"
)

// auth decides who may read and who may act. The admin token is the one
// secret; a session cookie is a signed, expiring proof that its holder
// presented the token (or a one-time link made with it). Cookies are
// signed rather than stored, so they survive a daemon restart; a new admin
// token ends every session, and signing out ends one (see revoked).
type auth struct {
	token       []byte
	key         []byte // HMAC key for session cookies, derived from the token
	readAuth    bool
	metricsAuth bool
	now         func() time.Time

	mu            sync.Mutex
	links         map[string]time.Time // one-time sign-in codes → expiry
	ended         revoked              // sessions signed out, and their live streams
	signedOutFile string               // where ended is kept across restarts; "" in memory only
}

func newAuth(token string, readAuth, metricsAuth bool) *auth {
	m := hmac.New(sha256.New, []byte(token))
	m.Write([]byte("storebox session key v1"))
	return &auth{token: []byte(token), key: m.Sum(nil), readAuth: readAuth, metricsAuth: metricsAuth,
		now: time.Now, links: map[string]time.Time{}, ended: newRevoked()}
}

// bearer reports whether r carries "Authorization: Bearer <admin token>".
func (a *auth) bearer(r *http.Request) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && len(a.token) > 0 && subtle.ConstantTimeCompare([]byte(strings.TrimSpace(tok)), a.token) == 1
}

// session returns the expiry of r's valid session cookie.
func (a *auth) session(r *http.Request) (time.Time, bool) {
	c, err := r.Cookie(cookieName)
	if err != nil {
		return time.Time{}, false
	}
	return a.verify(c.Value)
}

// mint makes a session cookie value: v1.<expiry unix>.<nonce>.<mac>.
func (a *auth) mint(exp time.Time) string {
	var nonce [12]byte
	rand.Read(nonce[:])
	body := sessionVers + "." + strconv.FormatInt(exp.Unix(), 10) + "." + base64.RawURLEncoding.EncodeToString(nonce[:])
	return body + "." + base64.RawURLEncoding.EncodeToString(a.mac(body))
}

func (a *auth) mac(body string) []byte {
	m := hmac.New(sha256.New, a.key)
	m.Write([]byte(body))
	return m.Sum(nil)
}

func (a *auth) verify(v string) (time.Time, bool) {
	i := strings.LastIndexByte(v, '.')
	if i < 0 {
		return time.Time{}, false
	}
	body, sig := v[:i], v[i+1:]
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, a.mac(body)) {
		return time.Time{}, false
	}
	parts := strings.Split(body, ".")
	if len(parts) != 3 || parts[0] != sessionVers {
		return time.Time{}, false
	}
	sec, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	exp := time.Unix(sec, 0)
	if !a.now().Before(exp) || exp.Sub(a.now()) > SessionTTL+time.Minute {
		return time.Time{}, false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.ended.has(parts[2], exp) {
		return time.Time{}, false
	}
	return exp, true
}

// startSession sets a fresh session cookie on w.
func (a *auth) startSession(w http.ResponseWriter, r *http.Request) {
	exp := a.now().Add(SessionTTL)
	http.SetCookie(w, &http.Cookie{
		Name: cookieName, Value: a.mint(exp), Path: "/", Expires: exp, MaxAge: int(SessionTTL / time.Second),
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil,
	})
}

func endSession(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
}

// newLink makes a one-time sign-in code valid for LinkTTL.
func (a *auth) newLink() (string, time.Time, error) {
	var raw [16]byte
	rand.Read(raw[:])
	code := base64.RawURLEncoding.EncodeToString(raw[:])
	now := a.now()
	exp := now.Add(LinkTTL)
	a.mu.Lock()
	defer a.mu.Unlock()
	for c, e := range a.links {
		if !now.Before(e) {
			delete(a.links, c)
		}
	}
	if len(a.links) >= maxLinks {
		return "", time.Time{}, errors.New("too many unused sign-in links; wait for them to expire (5 min)")
	}
	a.links[code] = exp
	return code, exp, nil
}

// useLink consumes code: true the first time, within its lifetime.
func (a *auth) useLink(code string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	exp, ok := a.links[code]
	if !ok {
		return false
	}
	delete(a.links, code)
	return a.now().Before(exp)
}

// sameOrigin guards cookie-authenticated writes and the sign-in form
// beyond SameSite: a browser's Origin (or Sec-Fetch-Site) must say the
// request came from this page. Tools without those headers use the
// bearer token, which a cross-site page cannot send.
func sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return false
	}
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if err != nil || u.Host != r.Host {
			return false
		}
	}
	return true
}

// admin reports whether r may change things: the bearer token, or a
// session cookie on a same-origin request.
func (a *auth) admin(r *http.Request) bool {
	if a.bearer(r) {
		return true
	}
	_, ok := a.session(r)
	return ok && sameOrigin(r)
}

// reader reports whether r may read: always with read_auth off,
// otherwise the bearer token or a session. exp is the session's end (zero
// for the token), so a long-lived stream can stop when it lapses.
func (a *auth) reader(r *http.Request) (exp time.Time, ok bool) {
	if !a.readAuth || a.bearer(r) {
		return time.Time{}, true
	}
	return a.session(r)
}
