// Package devmsg decodes device requests and encodes replies and pushes
// (PROTOCOL.md §2.2 "Messages"). It knows the envelope and error codes, not actions.
package devmsg

import (
	"bytes"
	stdjson "encoding/json"
	"errors"
	"fmt"
	"strings"

	// A drop-in for encoding/json, several times faster on the envelope
	// every device frame goes through.
	json "github.com/segmentio/encoding/json"
)

// Error codes (PROTOCOL.md §2).
const (
	CodeBadRequest      = "bad_request"
	CodeUnknownAction   = "unknown_action"
	CodeNotLoggedIn     = "not_logged_in"
	CodePendingApproval = "pending_approval"
	CodeForbidden       = "forbidden"
	CodeNotFound        = "not_found"
	CodeOutOfStock      = "out_of_stock"
	CodeConflict        = "conflict"
	CodeOffline         = "offline"
	CodeBusy            = "busy"
	CodeInternal        = "internal"
)

// Error is a reply-level failure: a code and a human-readable message.
type Error struct {
	Code string
	Msg  string
}

func (e *Error) Error() string { return e.Code + ": " + e.Msg }

// Errorf builds an *Error.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Msg: fmt.Sprintf(format, args...)}
}

// AsError extracts an *Error, wrapping anything else as internal.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Code: CodeInternal, Msg: err.Error()}
}

// Head is the message head.
type Head struct {
	Action   string `json:"action"`
	EquipID  string `json:"equipId,omitempty"`
	UniqueID string `json:"uniqueId,omitempty"`
	Seq      *int64 `json:"seq,omitempty"`
}

// Request is a decoded device message. Body is always a JSON object.
type Request struct {
	Head Head
	Body json.RawMessage
}

type wire struct {
	Head *Head           `json:"head"`
	Body json.RawMessage `json:"body"`
}

var emptyObject = json.RawMessage(`{}`)

// Decode parses one frame. On error it returns as much of the head as it
// could read, so the reply can still echo the action and seq.
func Decode(b []byte) (*Request, *Error) {
	var w wire
	if err := json.Unmarshal(b, &w); err != nil {
		err = stdError(b, &wire{}, err)
		// Try to salvage the head for the reply.
		var hw struct {
			Head *Head `json:"head"`
		}
		req := &Request{}
		if json.Unmarshal(b, &hw) == nil && hw.Head != nil {
			req.Head = *hw.Head
		}
		return req, Errorf(CodeBadRequest, "invalid JSON: %s", jsonErr(err))
	}
	req := &Request{Body: emptyObject}
	if w.Head == nil {
		return req, Errorf(CodeBadRequest, "missing head")
	}
	req.Head = *w.Head
	if strings.TrimSpace(req.Head.Action) == "" {
		return req, Errorf(CodeBadRequest, "missing head.action")
	}
	body := bytes.TrimSpace(w.Body)
	switch {
	case len(body) == 0 || bytes.Equal(body, []byte("null")):
	case body[0] == '{':
		req.Body = body
	case body[0] == '"':
		// Older terminals send the body as a JSON string holding an object.
		var s string
		if err := json.Unmarshal(body, &s); err != nil {
			return req, Errorf(CodeBadRequest, "body: %s", jsonErr(err))
		}
		inner := bytes.TrimSpace([]byte(s))
		if len(inner) == 0 {
			break
		}
		if inner[0] != '{' || !json.Valid(inner) {
			return req, Errorf(CodeBadRequest, "body is a string that does not hold a JSON object")
		}
		req.Body = inner
	default:
		return req, Errorf(CodeBadRequest, "body must be a JSON object")
	}
	return req, nil
}

// stdError is encoding/json's error for b, which says where and what went
// wrong more plainly than the fast decoder's (an offset, the kind of value
// met). Bad input is the rare path, so decoding it twice costs nothing that
// matters; FuzzDecodeMatchesStdlib checks both decoders reject the same input.
func stdError(b []byte, v any, fast error) error {
	if err := stdjson.Unmarshal(b, v); err != nil {
		return err
	}
	return fast
}

func jsonErr(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("%s at offset %d", se.Error(), se.Offset)
	}
	return err.Error()
}

// DecodeBody unmarshals the body into v. Unknown fields are ignored because
// older devices send extras; a type error is bad_request naming the field.
func (r *Request) DecodeBody(v any) *Error {
	if err := json.Unmarshal(r.Body, v); err != nil {
		err = stdError(r.Body, v, err)
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return Errorf(CodeBadRequest, "body.%s: expected %s, got %s", te.Field, te.Type, te.Value)
		}
		return Errorf(CodeBadRequest, "body: %s", jsonErr(err))
	}
	return nil
}

// ReplyAction is the action name of a reply.
func ReplyAction(action string) string { return action + "Return" }

// EncodeReply builds a reply frame payload. body must marshal to a JSON
// object (or be nil); exception and code are added to it.
func EncodeReply(head Head, body any, e *Error) ([]byte, error) {
	h := Head{Action: ReplyAction(head.Action), UniqueID: head.UniqueID, Seq: head.Seq}
	return encode(h, body, e, true)
}

// EncodePush builds a server push (no exception field needed but harmless).
func EncodePush(action, uniqueID string, body any) ([]byte, error) {
	return encode(Head{Action: action, UniqueID: uniqueID}, body, nil, false)
}

func encode(h Head, body any, e *Error, withException bool) ([]byte, error) {
	hb, err := json.Marshal(h)
	if err != nil {
		return nil, err
	}
	var bb []byte
	if body != nil {
		if raw, ok := body.(json.RawMessage); ok {
			bb = raw
		} else if bb, err = json.Marshal(body); err != nil {
			return nil, fmt.Errorf("encode body: %w", err)
		}
	}
	if len(bb) == 0 || bytes.Equal(bb, []byte("null")) {
		bb = []byte("{}")
	}
	if bb[0] != '{' {
		return nil, fmt.Errorf("encode body: not an object")
	}
	out := make([]byte, 0, len(hb)+len(bb)+64)
	out = append(out, `{"head":`...)
	out = append(out, hb...)
	out = append(out, `,"body":{`...)
	if withException {
		if e == nil {
			out = append(out, `"exception":""`...)
		} else {
			msg, _ := json.Marshal(e.Msg)
			code, _ := json.Marshal(e.Code)
			out = append(out, `"exception":`...)
			out = append(out, msg...)
			out = append(out, `,"code":`...)
			out = append(out, code...)
		}
		if len(bb) > 2 {
			out = append(out, ',')
		}
	}
	out = append(out, bb[1:]...)
	out = append(out, '}')
	return out, nil
}
