package charset

import (
	"encoding/json"
	"testing"
)

func TestGBKRoundTripAndEscapes(t *testing.T) {
	in := []byte(`{"gname":"农夫山泉 550ml","emoji":"😀","euro":"€","plain":"abc"}`)
	g := EncodeJSONToGBK(in)
	back, err := DecodeGBK(g)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]string
	if err := json.Unmarshal(back, &m); err != nil {
		t.Fatalf("%q: %v", back, err)
	}
	if m["gname"] != "农夫山泉 550ml" || m["emoji"] != "😀" || m["euro"] != "€" || m["plain"] != "abc" {
		t.Fatalf("%v", m)
	}
	if string(g[:11]) != `{"gname":"`+"\xc5" {
		t.Fatalf("not GBK: %q", g[:12])
	}
}

func TestNormalize(t *testing.T) {
	for in, want := range map[string]string{"": UTF8, "UTF8": UTF8, "GBK": GBK, "gb2312": GBK} {
		if got, err := Normalize(in); err != nil || got != want {
			t.Errorf("%q: %q %v", in, got, err)
		}
	}
	if _, err := Normalize("latin1"); err == nil {
		t.Error("latin1 accepted")
	}
}
