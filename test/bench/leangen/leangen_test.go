//go:build linux

package leangen

import (
	"bytes"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/storebox/storebox/protocol/frame"
)

// echoServer answers each length-framed request with a heartbeat push
// (which the generator must skip) and then the request itself; a request
// holding "hangup" closes the connection instead.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				fr := frame.NewReader(c, 0)
				for {
					p, err := fr.Next()
					if err != nil || bytes.Contains(p, []byte("hangup")) {
						return
					}
					out := frame.Append(nil, frame.ModeLength, []byte(`{"head":{"action":"health"}}`))
					if _, err := c.Write(frame.Append(out, frame.ModeLength, p)); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

func dialN(t *testing.T, addr string, n int) []*net.TCPConn {
	t.Helper()
	var cs []*net.TCPConn
	for range n {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		cs = append(cs, c.(*net.TCPConn))
	}
	return cs
}

func requests(n int, body string) [][][]byte {
	out := make([][][]byte, n)
	for i := range out {
		out[i] = [][]byte{frame.Append(nil, frame.ModeLength, []byte(body))}
	}
	return out
}

func skipHealth(f []byte) bool { return bytes.Contains(f, []byte(`"health"`)) }

func TestPacedSendsEveryDueRequestOnce(t *testing.T) {
	addr := echoServer(t)
	for _, cpu := range []int{-1, 0} {
		res, err := Run(dialN(t, addr, 4), Config{
			Requests: requests(4, `{"n":1}`), Duration: 200 * time.Millisecond, Rate: 1000,
			Skip: skipHealth, CPU: cpu,
			Check: func(f []byte) error {
				if string(f) != `{"n":1}` {
					return errors.New("wrong reply " + string(f))
				}
				return nil
			},
		})
		if err != nil {
			t.Fatalf("cpu %d: %v", cpu, err)
		}
		// Slots fall every millisecond for 200 ms; each is sent, however
		// late, and answered once; heartbeats are not counted.
		if res.Replies != 200 || len(res.Service) != 200 || len(res.Due) != 200 {
			t.Fatalf("cpu %d: %d replies, %d service and %d due latencies; want 200 each", cpu, res.Replies, len(res.Service), len(res.Due))
		}
		for i, d := range res.Service {
			if d <= 0 || res.Due[i] < 0 {
				t.Fatalf("cpu %d: latency %d is %v (due %v)", cpu, i, d, res.Due[i])
			}
		}
	}
}

func TestClosedLoopKeepsOneInFlight(t *testing.T) {
	addr := echoServer(t)
	res, err := Run(dialN(t, addr, 3), Config{Requests: requests(3, `{}`), Duration: 100 * time.Millisecond, Skip: skipHealth, CPU: -1})
	if err != nil {
		t.Fatal(err)
	}
	if res.Replies == 0 || len(res.Service) != res.Replies || len(res.Due) != 0 {
		t.Fatalf("%d replies, %d latencies, %d due", res.Replies, len(res.Service), len(res.Due))
	}
}

func TestRunFailsLoudly(t *testing.T) {
	addr := echoServer(t)
	_, err := Run(dialN(t, addr, 2), Config{Requests: requests(2, `{}`), Duration: time.Second, Skip: skipHealth, CPU: -1,
		Check: func([]byte) error { return errors.New("bad reply") }})
	if err == nil || err.Error() != "bad reply" {
		t.Fatalf("a failing check: %v", err)
	}
	_, err = Run(dialN(t, addr, 1), Config{Requests: requests(1, `hangup`), Duration: time.Second, CPU: -1})
	if err == nil || !strings.Contains(err.Error(), "closed") {
		t.Fatalf("a server that hangs up: %v", err)
	}
	_, err = Run(dialN(t, addr, 2), Config{Requests: requests(1, `{}`), Duration: time.Second, CPU: -1})
	if err == nil {
		t.Fatal("request lists not matching the connections: no error")
	}
}
