// Package cloudkit holds what the reference cloud's parts share: the store
// signature check on requests, JSON replies, and whole-file state writes.
package cloudkit

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/storebox/storebox/protocol/ledger"
)

const (
	maxWireBody = 16 << 20 // a request body as sent (maybe gzipped)
	// MaxJSONBody is the most the cloud reads of a body once decompressed.
	MaxJSONBody = 64 << 20
)

// Verifier checks the signatures of store requests (UPSTREAM.md §2).
type Verifier struct {
	SecretFor func(store string) string // "" for a store the cloud does not know
	Now       func() time.Time
	Refused   func(why string) // counts and logs a refusal; the 401 is written here
}

type bodyKey struct{}

// Signed reads (and un-gzips) the body, then checks the signature: over the
// decompressed body, or over the request target when there is no body. The
// handler it passes to reads the verified body with Body.
func (v Verifier) Signed(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		store := r.Header.Get(ledger.HeaderStore)
		if ps := r.PathValue("store"); ps != "" && ps != store {
			v.refuse(w, "store header does not match the path")
			return
		}
		secret := ""
		if store != "" {
			secret = v.SecretFor(store)
		}
		if secret == "" {
			v.refuse(w, "unknown store")
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, maxWireBody+1))
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			WriteErr(w, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("body over %d bytes", tooBig.Limit))
			return
		}
		if err != nil {
			WriteErr(w, http.StatusBadRequest, "bad_body", err.Error())
			return
		}
		if len(body) > maxWireBody {
			WriteErr(w, http.StatusRequestEntityTooLarge, "too_large", "body over 16 MiB")
			return
		}
		if strings.EqualFold(r.Header.Get("Content-Encoding"), "gzip") {
			zr, err := gzip.NewReader(bytes.NewReader(body))
			if err == nil {
				body, err = io.ReadAll(io.LimitReader(zr, MaxJSONBody+1))
			}
			if err != nil {
				WriteErr(w, http.StatusBadRequest, "bad_gzip", err.Error())
				return
			}
			if len(body) > MaxJSONBody {
				WriteErr(w, http.StatusRequestEntityTooLarge, "too_large", "decompressed body over 64 MiB")
				return
			}
		}
		if err := ledger.Verify(secret, r.Header.Get(ledger.HeaderSignature), ledger.SignedPayload(body, r.RequestURI), v.Now()); err != nil {
			v.refuse(w, err.Error())
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), bodyKey{}, body)))
	})
}

func (v Verifier) refuse(w http.ResponseWriter, why string) {
	v.Refused(why)
	WriteErr(w, http.StatusUnauthorized, "bad_signature", why)
}

// Body is the request body Signed verified (nil outside Signed).
func Body(r *http.Request) []byte {
	b, _ := r.Context().Value(bodyKey{}).([]byte)
	return b
}

// WriteJSON answers with v as JSON.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// WriteErr answers {"error": code, "detail": detail}.
func WriteErr(w http.ResponseWriter, status int, code, detail string) {
	WriteJSON(w, status, map[string]string{"error": code, "detail": detail})
}

// ReplaceFile writes a state file whole: a temporary file renamed over it,
// so a crash leaves the old state or the new, never half of one.
func ReplaceFile(path string, b []byte, what string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("save %s: %w", what, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("save %s: %w", what, err)
	}
	return nil
}
