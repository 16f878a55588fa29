package nearest

import "testing"

func TestName(t *testing.T) {
	keys := []string{"listen", "admission", "heartbeat", "max_connections", "outbound_queue", "tokens", "approve", "reject"}
	for _, tc := range []struct{ in, want string }{
		{"admision", "admission"},
		{"Admission", "admission"},
		{"lisen", "listen"},
		{"aprove", "approve"},
		{"hearbteat", "heartbeat"},
		{"max_conections", "max_connections"},
		{"colour", ""}, // nothing like it: no guess
		{"x", ""},
		{"", ""},
	} {
		if got := Name(tc.in, keys); got != tc.want {
			t.Errorf("Name(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if got := Name("polcy", []string{"id", "secret", "policy", "terminal", "staff", "open_ms"}); got != "policy" {
		t.Errorf("polcy: %q", got)
	}
}

func TestDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"a", "", 1}, {"", "abc", 3}, {"kitten", "sitting", 3}, {"ab", "ba", 1}, {"polcy", "policy", 1}, {"äb", "ab", 1},
	} {
		if got := distance(tc.a, tc.b); got != tc.want {
			t.Errorf("distance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}
