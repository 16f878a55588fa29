package ledger

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestSignVerify(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	body := []byte(`{"batch_id":"b1","events":[]}`)
	h := Sign("k", now, body)
	if !strings.HasPrefix(h, "t=1800000000,v1=") || len(h) != len("t=1800000000,v1=")+64 {
		t.Fatalf("header %q", h)
	}
	if err := Verify("k", h, body, now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		secret, header string
		body           []byte
		at             time.Time
		want           error
	}{
		"forged body":   {"k", h, []byte(`{}`), now, ErrBadSignature},
		"wrong secret":  {"x", h, body, now, ErrBadSignature},
		"stale":         {"k", h, body, now.Add(6 * time.Minute), ErrStaleSignature},
		"future":        {"k", h, body, now.Add(-6 * time.Minute), ErrStaleSignature},
		"malformed":     {"k", "garbage", body, now, ErrMalformed},
		"no v1":         {"k", "t=1800000000", body, now, ErrMalformed},
		"ts not number": {"k", "t=abc,v1=00", body, now, ErrMalformed},
	}
	for name, c := range cases {
		if err := Verify(c.secret, c.header, c.body, c.at); !errors.Is(err, c.want) {
			t.Errorf("%s: got %v want %v", name, err, c.want)
		}
	}
}

// A known vector computed independently:
// printf '1800000000.{}' | openssl dgst -sha256 -hmac k
func TestSignVector(t *testing.T) {
	got := Sign("k", time.Unix(1_800_000_000, 0), []byte("{}"))
	want := "t=1800000000,v1=cdd93e246b17200236861b3061e5be1099fa09298de6cebf58e528db933f5c62"
	if got != want {
		t.Fatalf("%s != %s", got, want)
	}
}

func TestSignedPayloadGET(t *testing.T) {
	if string(SignedPayload(nil, "/v1/stores/s/catalog?since=a&limit=2")) != "/v1/stores/s/catalog?since=a&limit=2" {
		t.Fatal("GET payload is the path and query")
	}
}
