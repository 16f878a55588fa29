package devmsg

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestDecode(t *testing.T) {
	cases := []struct {
		name, in, code, body string
	}{
		{"object body", `{"head":{"action":"getGoods","seq":7},"body":{"code":"1"}}`, "", `{"code":"1"}`},
		{"string body", `{"head":{"action":"getGoods"},"body":"{\"code\":\"1\"}"}`, "", `{"code":"1"}`},
		{"no body", `{"head":{"action":"health"}}`, "", `{}`},
		{"null body", `{"head":{"action":"health"},"body":null}`, "", `{}`},
		{"string not json", `{"head":{"action":"x"},"body":"hello"}`, CodeBadRequest, ""},
		{"string array", `{"head":{"action":"x"},"body":"[1]"}`, CodeBadRequest, ""},
		{"array body", `{"head":{"action":"x"},"body":[1]}`, CodeBadRequest, ""},
		{"no head", `{"body":{}}`, CodeBadRequest, ""},
		{"no action", `{"head":{"seq":1}}`, CodeBadRequest, ""},
		{"invalid json", `{"head":`, CodeBadRequest, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, err := Decode([]byte(c.in))
			if c.code != "" {
				if err == nil || err.Code != c.code {
					t.Fatalf("want %s, got %v", c.code, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(req.Body) != c.body {
				t.Fatalf("body %s", req.Body)
			}
		})
	}
}

func TestEncodeReply(t *testing.T) {
	seq := int64(7)
	b, err := EncodeReply(Head{Action: "getGoods", Seq: &seq, UniqueID: "T#1"}, map[string]any{"goods": []int{}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		Head Head           `json:"head"`
		Body map[string]any `json:"body"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	if r.Head.Action != "getGoodsReturn" || *r.Head.Seq != 7 || r.Head.UniqueID != "T#1" || r.Body["exception"] != "" {
		t.Fatalf("%s", b)
	}
	b, _ = EncodeReply(Head{Action: "x"}, nil, Errorf(CodeNotFound, "no \"such\" goods"))
	if !strings.Contains(string(b), `"exception":"no \"such\" goods","code":"not_found"`) || !json.Valid(b) {
		t.Fatalf("%s", b)
	}
}

// FuzzDecode: any input decodes or fails with a code; a decoded body is
// always a valid JSON object, and a reply to it is valid JSON.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"head":{"action":"getGoods","seq":7},"body":{"code":"1"}}`))
	f.Add([]byte(`{"head":{"action":"x"},"body":"{\"a\":1}"}`))
	f.Add([]byte(`{"head":{"action":"x"},"body":"nope"}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		req, err := Decode(in)
		if err != nil {
			if err.Code == "" {
				t.Fatal("error without code")
			}
		} else if !json.Valid(req.Body) || req.Body[0] != '{' {
			t.Fatalf("body not an object: %q", req.Body)
		}
		out, eerr := EncodeReply(req.Head, nil, err)
		if eerr != nil || !json.Valid(out) {
			t.Fatalf("reply invalid: %q %v", out, eerr)
		}
	})
}

// FuzzDecodeMatchesStdlib checks the fast decoder (segmentio/encoding)
// against encoding/json on the same input: both accept or both reject, and
// an accepted message has the same head and body.
func FuzzDecodeMatchesStdlib(f *testing.F) {
	f.Add([]byte(`{"head":{"action":"getGoods","seq":7},"body":{"code":"1"}}`))
	f.Add([]byte(`{"head":{"action":"x","equipId":"T-1","uniqueId":"u"},"body":"{\"a\":1}"}`))
	f.Add([]byte(`{"HEAD":{"Action":"x"},"body":{"a":[1,2,{"b":null}]}}`))
	f.Add([]byte(`{"head":{"action":"x\u00e9\ud83d\ude00","seq":-3},"body":{},"head":{"action":"y"}}`))
	f.Add([]byte("{\"head\":{\"action\":\"\xff\xfe\"},\"body\":{}}"))
	f.Add([]byte(`{"head":{"action":"x","seq":1.5},"body":{}}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		var std struct {
			Head *Head           `json:"head"`
			Body json.RawMessage `json:"body"`
		}
		stdErr := json.Unmarshal(in, &std)
		req, err := Decode(in)
		if stdErr != nil {
			if err == nil {
				t.Fatalf("accepted what encoding/json rejects (%v): %q", stdErr, in)
			}
			return
		}
		if std.Head == nil {
			if err == nil {
				t.Fatalf("accepted a message without head: %q", in)
			}
			return
		}
		if req.Head.Action != std.Head.Action || req.Head.EquipID != std.Head.EquipID || req.Head.UniqueID != std.Head.UniqueID ||
			(req.Head.Seq == nil) != (std.Head.Seq == nil) || (req.Head.Seq != nil && *req.Head.Seq != *std.Head.Seq) {
			t.Fatalf("head %+v, encoding/json %+v: %q", req.Head, *std.Head, in)
		}
		if err == nil && bytes.HasPrefix(bytes.TrimSpace(std.Body), []byte("{")) && !bytes.Equal(req.Body, bytes.TrimSpace(std.Body)) {
			t.Fatalf("body %q, encoding/json %q", req.Body, std.Body)
		}
	})
}

// A body field of the wrong type is named with the kind of value sent, as
// encoding/json words it, never with raw message text.
func TestDecodeBodyTypeErrors(t *testing.T) {
	var body struct {
		Lmt   int      `json:"lmt"`
		Code  string   `json:"code"`
		Tags  []string `json:"tags"`
		Flag  bool     `json:"flag"`
		Inner struct {
			N int `json:"n"`
		} `json:"inner"`
	}
	for in, want := range map[string]string{
		`{"lmt":"2"}`:          "body.lmt: expected int, got string",
		`{"code":12}`:          "body.code: expected string, got number",
		`{"tags":"a"}`:         "body.tags: expected []string, got string",
		`{"flag":[1]}`:         "body.flag: expected bool, got array",
		`{"lmt":true}`:         "body.lmt: expected int, got bool",
		`{"code":{"a":1}}`:     "body.code: expected string, got object",
		`{"inner":{"n":"x"}}`:  "body.inner.n: expected int, got string",
		`{"lmt":1.5,"code":1}`: "body.lmt: expected int, got number 1.5",
	} {
		req, derr := Decode([]byte(`{"head":{"action":"x"},"body":` + in + `}`))
		if derr != nil {
			t.Fatal(derr)
		}
		e := req.DecodeBody(&body)
		if e == nil || e.Code != CodeBadRequest || e.Msg != want {
			t.Errorf("%s: %v, want %q", in, e, want)
		}
	}
}
