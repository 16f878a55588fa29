package httpapi

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// serveTest runs a server with cfg on 127.0.0.1:0 until the test ends.
func serveTest(t *testing.T, cfg Config) string {
	t.Helper()
	cfg.Listen, cfg.AdminToken = "127.0.0.1:0", "0123456789abcdef0123456789abcdef"
	s := New(cfg, slog.New(slog.DiscardHandler))
	s.MountStatusPage(func() any { return map[string]int{"x": 1} })
	if err := s.Bind(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Serve(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return s.Addr().String()
}

func dialFrom(t *testing.T, local, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// closedWithin reports whether the server closes c (EOF or reset) within
// d, reading and discarding whatever it sends first.
func closedWithin(c net.Conn, d time.Duration) bool {
	c.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	return !(errors.As(err, &ne) && ne.Timeout())
}

// A keep-alive connection with no next request, and a request whose body
// never arrives, are closed after the timeouts; the event stream, which
// sends and never reads, outlives both.
func TestHTTPTimeoutsCloseIdleConnectionsNotStreams(t *testing.T) {
	addr := serveTest(t, Config{ReadTimeout: 300 * time.Millisecond, IdleTimeout: 300 * time.Millisecond})

	idle := dialFrom(t, "127.0.0.1", addr)
	io.WriteString(idle, "GET /healthz HTTP/1.1\r\nHost: box\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(idle), nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz: %v %v", err, resp)
	}
	resp.Body.Close()
	if !closedWithin(idle, 3*time.Second) {
		t.Error("an idle keep-alive connection is still open 3 s after a 300 ms idle timeout")
	}

	slow := dialFrom(t, "127.0.0.1", addr)
	io.WriteString(slow, "POST /signin HTTP/1.1\r\nHost: box\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\ntoken=")
	if !closedWithin(slow, 3*time.Second) {
		t.Error("a request body that never arrives holds its connection 3 s after a 300 ms read timeout")
	}

	stream := dialFrom(t, "127.0.0.1", addr)
	io.WriteString(stream, "GET /api/v1/events HTTP/1.1\r\nHost: box\r\nAuthorization: Bearer 0123456789abcdef0123456789abcdef\r\n\r\n")
	br := bufio.NewReader(stream)
	stream.SetReadDeadline(time.Now().Add(5 * time.Second))
	if line, err := br.ReadString('\n'); err != nil || !strings.Contains(line, "200") {
		t.Fatalf("stream: %q %v", line, err)
	}
	stream.SetReadDeadline(time.Now().Add(1500 * time.Millisecond))
	_, err = io.Copy(io.Discard, br)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("the event stream ended within 1.5 s (read and idle timeouts 300 ms): %v", err)
	}
}

// One client (an address) holding its cap of idle connections gets a 429
// on the next; another client is served, and /healthz still answers.
func TestHTTPConnectionCapPerClient(t *testing.T) {
	addr := serveTest(t, Config{MaxConnsPerAddress: 8})
	for i := 0; i < 8; i++ {
		dialFrom(t, "127.0.0.1", addr)
	}
	over := dialFrom(t, "127.0.0.1", addr)
	over.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(over), nil)
	if err != nil || resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("the 9th idle connection of one client: %v %v, want 429", err, resp)
	}
	other := dialFrom(t, "127.0.0.2", addr)
	io.WriteString(other, "GET /healthz HTTP/1.1\r\nHost: box\r\n\r\n")
	other.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err = http.ReadResponse(bufio.NewReader(other), nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("another client's /healthz: %v %v", err, resp)
	}
}

// A client that used up its wrong tokens is refused as it connects, with
// a 429 that says why; another client is not.
func TestGuessingClientIsRefusedAtAccept(t *testing.T) {
	addr := serveTest(t, Config{ReadAuth: true})
	get := func(from, auth string) *http.Response {
		t.Helper()
		c := dialFrom(t, from, addr)
		io.WriteString(c, "GET /api/v1/events HTTP/1.1\r\nHost: box\r\nAuthorization: Bearer "+auth+"\r\nConnection: close\r\n\r\n")
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("from %s: %v", from, err)
		}
		return resp
	}
	for i := 0; i < 10; i++ {
		if r := get("127.0.0.1", "wrong"); r.StatusCode != 401 {
			t.Fatalf("wrong token %d: %d", i, r.StatusCode)
		}
	}
	r := get("127.0.0.1", "wrong")
	b, _ := io.ReadAll(r.Body)
	if r.StatusCode != http.StatusTooManyRequests || r.Header.Get("Retry-After") != "60" || !strings.Contains(string(b), "wrong admin tokens") {
		t.Errorf("after 10 wrong tokens: %d %q %s", r.StatusCode, r.Header.Get("Retry-After"), b)
	}
	if r := get("127.0.0.2", "0123456789abcdef0123456789abcdef"); r.StatusCode != 200 {
		t.Errorf("another client with the token: %d", r.StatusCode)
	}
}

// A client refused at accept that keeps connecting is answered a few times
// (a 429 that says why), then closed at once: a token spray costs an
// accept and a close, not a reply each (issue 19's bench: 10,000 refused
// connections a second held half the daemon's CPU).
func TestRefusedClientAnswersAreRateLimited(t *testing.T) {
	addr := serveTest(t, Config{ReadAuth: true})
	for i := 0; i < 10; i++ {
		c := dialFrom(t, "127.0.0.1", addr)
		io.WriteString(c, "GET /api/v1/events HTTP/1.1\r\nHost: box\r\nAuthorization: Bearer wrong\r\nConnection: close\r\n\r\n")
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if resp, err := http.ReadResponse(bufio.NewReader(c), nil); err != nil || resp.StatusCode != 401 {
			t.Fatalf("wrong token %d: %v %v", i, err, resp)
		}
	}
	answered := 0
	for i := 0; i < 20; i++ {
		c := dialFrom(t, "127.0.0.1", addr)
		io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: box\r\nConnection: close\r\n\r\n")
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		switch {
		case err == nil && resp.StatusCode == http.StatusTooManyRequests:
			answered++
		case err == nil:
			t.Fatalf("refused client's connection %d: %s", i, resp.Status)
		case errors.Is(err, os.ErrDeadlineExceeded):
			t.Fatalf("refused client's connection %d neither answered nor closed", i)
		}
	}
	// 4 at once and one a second: 20 quick connections get at most a few
	// more than 4 answers (a slow machine takes some seconds for them).
	if answered < 1 || answered > 10 {
		t.Fatalf("%d of 20 refused connections answered, want 4 and one a second", answered)
	}
}
