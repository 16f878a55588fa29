package discovery

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseProbe(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Probe
		err  error
	}{
		{"spec example", `{"action":"discover","equipId":"T-01","kind":"terminal"}`, Probe{ActionDiscover, "T-01", "terminal"}, nil},
		{"whitespace and newline", " {\"action\": \"discover\", \"equipId\": \"DZC_1\"}\r\n", Probe{ActionDiscover, "DZC_1", ""}, nil},
		{"action only", `{"action":"discover"}`, Probe{Action: ActionDiscover}, nil},
		{"unknown fields ignored", `{"action":"discover","x":[1,{"y":2}],"kind":"label"}`, Probe{Action: ActionDiscover, Kind: "label"}, nil},
		{"null equipId", `{"action":"discover","equipId":null}`, Probe{Action: ActionDiscover}, nil},
		{"unicode", `{"action":"discover","equipId":"秤-1"}`, Probe{ActionDiscover, "秤-1", ""}, nil},
		{"wrong action", `{"action":"discoverReturn","storeId":"s"}`, Probe{}, ErrWrongAction},
		{"no action", `{"equipId":"T-01"}`, Probe{}, ErrWrongAction},
		{"action case differs", `{"action":"Discover"}`, Probe{}, ErrWrongAction},
		{"key case differs", `{"ACTION":"discover"}`, Probe{}, ErrWrongAction},
		{"action not string", `{"action":1}`, Probe{}, ErrInvalidField},
		{"equipId not string", `{"action":"discover","equipId":7}`, Probe{}, ErrInvalidField},
		{"empty", ``, Probe{}, ErrNotJSON},
		{"junk", "\x00\x01garbage", Probe{}, ErrNotJSON},
		{"array", `[{"action":"discover"}]`, Probe{}, ErrNotJSON},
		{"string", `"discover"`, Probe{}, ErrNotJSON},
		{"truncated", `{"action":"discover"`, Probe{}, ErrNotJSON},
		{"two objects", `{"action":"discover"}{"action":"discover"}`, Probe{}, ErrNotJSON},
		{"trailing junk", `{"action":"discover"} x`, Probe{}, ErrNotJSON},
		{"oversize", `{"action":"discover","equipId":"` + strings.Repeat("a", MaxProbeSize) + `"}`, Probe{}, ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseProbe([]byte(tt.in))
			if !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestProbeSizeLimitIsExact(t *testing.T) {
	frame := `{"action":"discover","equipId":""}`
	pad := strings.Repeat("a", MaxProbeSize-len(frame))
	at := []byte(`{"action":"discover","equipId":"` + pad + `"}`)
	if len(at) != MaxProbeSize {
		t.Fatalf("test setup: %d bytes", len(at))
	}
	if _, err := ParseProbe(at); err != nil {
		t.Fatalf("probe of exactly %d bytes: %v", MaxProbeSize, err)
	}
	over := append(at[:len(at):len(at)], ' ')
	if _, err := ParseProbe(over); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("probe of %d bytes: err = %v, want ErrTooLarge", len(over), err)
	}
}

func TestAnswerRoundTrip(t *testing.T) {
	a := Answer{StoreID: "S-7", Name: "Tom & Jerry <Main St.>", Host: "192.0.2.2", Port: 8686, MQTTPort: 1883, HTTPPort: 8680, Version: "1.2.3"}
	b, err := a.Encode()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"action":"discoverReturn","storeId":"S-7","name":"Tom & Jerry <Main St.>","host":"192.0.2.2","port":8686,"mqttPort":1883,"httpPort":8680,"version":"1.2.3"}`
	if string(b) != want {
		t.Fatalf("encoded\n%s\nwant\n%s", b, want)
	}
	got, err := ParseAnswer(b)
	if err != nil {
		t.Fatal(err)
	}
	a.Action = ActionReturn
	if got != a {
		t.Fatalf("round trip: got %+v, want %+v", got, a)
	}
}

func TestParseAnswerRejects(t *testing.T) {
	tests := []struct {
		name, in string
		err      error
	}{
		{"probe", `{"action":"discover"}`, ErrWrongAction},
		{"port string", `{"action":"discoverReturn","port":"8686"}`, ErrInvalidField},
		{"port fraction", `{"action":"discoverReturn","port":8686.5}`, ErrInvalidField},
		{"port range", `{"action":"discoverReturn","port":70000}`, ErrInvalidField},
		{"negative port", `{"action":"discoverReturn","httpPort":-1}`, ErrInvalidField},
		{"junk", `<html>`, ErrNotJSON},
		{"oversize", `{"action":"discoverReturn","name":"` + strings.Repeat("n", MaxAnswerSize) + `"}`, ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ParseAnswer([]byte(tt.in)); !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
		})
	}
}

func TestEncodeRejects(t *testing.T) {
	if _, err := (Answer{Port: 65536}).Encode(); !errors.Is(err, ErrInvalidField) {
		t.Fatalf("port 65536: err = %v", err)
	}
	if _, err := (Probe{EquipID: strings.Repeat("x", MaxProbeSize)}).Encode(); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("huge probe: err = %v", err)
	}
	b, err := Probe{Action: "other", EquipID: "T-01", Kind: "terminal"}.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"action":"discover","equipId":"T-01","kind":"terminal"}`; string(b) != want {
		t.Fatalf("probe = %s, want %s", b, want)
	}
}

func TestInstanceName(t *testing.T) {
	if got := InstanceName("  "); got != "storebox" {
		t.Fatalf("empty: %q", got)
	}
	if got := InstanceName("Main St. Shop"); got != "Main St. Shop" {
		t.Fatalf("short: %q", got)
	}
	long := strings.Repeat("超市", 20) // 120 bytes
	got := InstanceName(long)
	if len(got) > 63 || !utf8.ValidString(got) || !strings.HasPrefix(long, got) || len(got) < 60 {
		t.Fatalf("long: %q (%d bytes)", got, len(got))
	}
}

func TestTXT(t *testing.T) {
	a := Answer{StoreID: "S-7", Version: "1.2.3", Port: 8686, MQTTPort: 1883, HTTPPort: 8680}
	txt, err := a.TXT()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(txt, ","), "store=S-7,ver=1.2.3,mqtt=1883,http=8680"; got != want {
		t.Fatalf("txt %s, want %s", got, want)
	}
	back, err := AnswerFromMDNS("Shop", "192.0.2.2", 8686, append(txt, "other=x"))
	if err != nil {
		t.Fatal(err)
	}
	want := Answer{Action: ActionReturn, StoreID: "S-7", Name: "Shop", Host: "192.0.2.2", Port: 8686, MQTTPort: 1883, HTTPPort: 8680, Version: "1.2.3"}
	if back != want {
		t.Fatalf("from mdns %+v, want %+v", back, want)
	}
	if _, err := AnswerFromMDNS("x", "h", 1, []string{"ver=1"}); !errors.Is(err, ErrInvalidField) {
		t.Fatalf("no store key: %v", err)
	}
	if _, err := AnswerFromMDNS("x", "h", 1, []string{"store=a", "mqtt=abc"}); !errors.Is(err, ErrInvalidField) {
		t.Fatalf("bad port: %v", err)
	}
	if _, err := (Answer{StoreID: strings.Repeat("s", 300)}).TXT(); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("long store id: %v", err)
	}
}

func FuzzParseProbe(f *testing.F) {
	f.Add([]byte(`{"action":"discover","equipId":"T-01","kind":"terminal"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseProbe(b)
		if err != nil {
			return
		}
		if len(b) > MaxProbeSize || p.Action != ActionDiscover {
			t.Fatalf("accepted %d bytes, action %q", len(b), p.Action)
		}
		enc, err := p.Encode()
		if err != nil {
			// Re-encoding may grow escapes past the limit; nothing else may fail.
			if !errors.Is(err, ErrTooLarge) {
				t.Fatalf("re-encode: %v", err)
			}
			return
		}
		again, err := ParseProbe(enc)
		if err != nil {
			t.Fatalf("re-parse %s: %v", enc, err)
		}
		if again != p {
			t.Fatalf("round trip: %+v != %+v", again, p)
		}
	})
}

func FuzzParseAnswer(f *testing.F) {
	f.Add([]byte(`{"action":"discoverReturn","storeId":"S","name":"n","host":"127.0.0.1","port":8686,"mqttPort":1883,"httpPort":8680,"version":"1"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := ParseAnswer(b)
		if err != nil {
			return
		}
		enc, err := a.Encode()
		if err != nil {
			if !errors.Is(err, ErrTooLarge) {
				t.Fatalf("re-encode: %v", err)
			}
			return
		}
		again, err := ParseAnswer(enc)
		if err != nil {
			t.Fatalf("re-parse %s: %v", enc, err)
		}
		if again != a {
			t.Fatalf("round trip: %+v != %+v", again, a)
		}
	})
}
