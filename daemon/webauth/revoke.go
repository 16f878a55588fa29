package webauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// SignedOutFile is the sign-out list's file in the data directory: a
// restart must not bring a signed-out cookie back.
const SignedOutFile = "signed-out.json"

// signedOut is SignedOutFile's content.
type signedOut struct {
	Cutoff   int64            `json:"cutoff,omitempty"` // unix seconds; 0: none
	Sessions map[string]int64 `json:"sessions"`         // nonce → expiry, unix seconds
}

// load reads the list saved at path (none yet is an empty list), keeping
// only sessions that have not expired by now.
func (v *revoked) load(path string, now time.Time) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read sign-outs: %w", err)
	}
	var f signedOut
	if err := json.Unmarshal(b, &f); err != nil {
		return fmt.Errorf("sign-outs %s: %w", path, err)
	}
	if f.Cutoff != 0 {
		v.cutoff = time.Unix(f.Cutoff, 0)
	}
	for n, e := range f.Sessions {
		if exp := time.Unix(e, 0); now.Before(exp) && len(v.nonces) < maxRevoked {
			v.nonces[n] = exp
		}
	}
	return nil
}

// save writes the list to path whole (a temporary file renamed over it).
func (v *revoked) save(path string) error {
	f := signedOut{Sessions: make(map[string]int64, len(v.nonces))}
	if !v.cutoff.IsZero() {
		f.Cutoff = v.cutoff.Unix()
	}
	for n, e := range v.nonces {
		f.Sessions[n] = e.Unix()
	}
	b, _ := json.Marshal(f)
	tmp, err := os.CreateTemp(filepath.Dir(path), ".signed-out-*")
	if err != nil {
		return fmt.Errorf("save sign-outs: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(b)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("save sign-outs: %w", err)
	}
	return nil
}

// maxRevoked bounds the sign-out list. Past it the oldest half of the
// list is replaced by a cutoff: every session started before the newest
// dropped one ends too (its holders sign in again), so the list never
// grows and a signed-out cookie never reads again.
const maxRevoked = 1024

// revoked is the server side of sign-out: the nonces of signed-out
// sessions until they would have expired anyway, a cutoff for sessions
// started before it, and the cancel functions of live streams by
// session, so a stream ends with the sign-out. Guarded by auth.mu.
type revoked struct {
	nonces  map[string]time.Time // nonce → the session's expiry
	cutoff  time.Time            // sessions that expire before cutoff+SessionTTL were started before it: ended
	streams map[string]map[*context.CancelFunc]struct{}
}

func newRevoked() revoked {
	return revoked{nonces: map[string]time.Time{}, streams: map[string]map[*context.CancelFunc]struct{}{}}
}

// has reports whether the session with nonce and expiry exp was ended.
func (v *revoked) has(nonce string, exp time.Time) bool {
	if _, ok := v.nonces[nonce]; ok {
		return true
	}
	return !v.cutoff.IsZero() && exp.Add(-SessionTTL).Before(v.cutoff)
}

// add ends the session nonce (expiring at exp) at now.
func (v *revoked) add(nonce string, exp, now time.Time) {
	for n, e := range v.nonces { // expired sessions need no entry
		if !now.Before(e) {
			delete(v.nonces, n)
		}
	}
	if len(v.nonces) >= maxRevoked {
		// Replace the half that expires first with a cutoff at the latest
		// start among them (a session's start is its expiry − SessionTTL).
		exps := make([]time.Time, 0, len(v.nonces))
		for _, e := range v.nonces {
			exps = append(exps, e)
		}
		slices.SortFunc(exps, time.Time.Compare) // 1,024 of them, once per 512 sign-outs
		median := exps[len(exps)/2]
		for n, e := range v.nonces {
			if !e.After(median) {
				delete(v.nonces, n)
			}
		}
		if c := median.Add(-SessionTTL + time.Second); c.After(v.cutoff) {
			v.cutoff = c
		}
	}
	v.nonces[nonce] = exp
	for cancel := range v.streams[nonce] {
		(*cancel)()
	}
	delete(v.streams, nonce)
}

// nonceOf is the nonce of r's session cookie, "" without one.
func nonceOf(r *http.Request) string {
	c, err := r.Cookie(cookieName)
	if err != nil {
		return ""
	}
	parts := strings.Split(c.Value, ".")
	if len(parts) != 4 {
		return ""
	}
	return parts[2]
}

// endSessionOf ends r's session server-side: its cookie no longer reads
// or acts, and its live streams stop. With a sign-out file the list is
// saved, so a restart keeps it; an error saving is returned (the session
// has ended in this process all the same).
func (a *auth) endSessionOf(r *http.Request) error {
	exp, ok := a.session(r)
	if !ok {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.ended.add(nonceOf(r), exp, a.now())
	if a.signedOutFile == "" {
		return nil
	}
	return a.ended.save(a.signedOutFile)
}

// watch ties cancel to r's session: signing it out calls cancel. The
// returned function forgets cancel (when the request ends).
func (a *auth) watch(r *http.Request, cancel context.CancelFunc) (forget func()) {
	nonce := nonceOf(r)
	if nonce == "" {
		return func() {}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	set := a.ended.streams[nonce]
	if set == nil {
		set = map[*context.CancelFunc]struct{}{}
		a.ended.streams[nonce] = set
	}
	set[&cancel] = struct{}{}
	return func() {
		a.mu.Lock()
		defer a.mu.Unlock()
		delete(set, &cancel)
		if len(set) == 0 && a.ended.streams[nonce] != nil && len(a.ended.streams[nonce]) == 0 {
			delete(a.ended.streams, nonce)
		}
	}
}
