// Package localapi is the CLI's client of a running daemon's HTTP API on
// this machine: where it listens, the admin token, requests and streams.
package localapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/storebox/storebox/daemon"
	"github.com/storebox/storebox/daemon/config"
	"github.com/storebox/storebox/daemon/readyfile"
)

// Client talks to the running daemon's HTTP API on this machine.
type Client struct {
	base     string
	dataDir  string // whose admin token this is
	token    string
	tokenErr error // why token is empty, for a 401
	hc       *http.Client
}

// New is a client for the daemon that c configures.
func New(c *config.Config) *Client {
	tok, err := daemon.ReadAdminToken(c)
	return &Client{dataDir: c.DataDir, base: "http://" + DialAddr(BoundListen(c, c.HTTP.Listen, func(f readyfile.File) string { return f.HTTP })), token: tok, tokenErr: err, hc: &http.Client{Timeout: 10 * time.Minute}}
}

// BoundListen is listen, a listener's configured address, or for port 0
// the address the running daemon recorded in its ready file.
func BoundListen(c *config.Config, listen string, bound func(readyfile.File) string) string {
	return readyfile.Resolve(c.DataDir, listen, bound)
}

// NeedToken fails with what to do when the admin token could not be read.
func (a *Client) NeedToken(c *config.Config) error {
	if a.token == "" {
		return fmt.Errorf("no admin token in %s (run as the storebox user or root, or set http.admin_token)", c.DataDir)
	}
	return nil
}

// DialAddr is where a client on this machine reaches a listener
// configured as listen: an "any" address becomes the loopback.
func DialAddr(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// Reachable reports whether a daemon answers on the local API.
func (a *Client) Reachable() bool {
	hc := &http.Client{Timeout: time.Second}
	resp, err := hc.Get(a.base + "/healthz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == 200
}

// Do sends one request and decodes a JSON answer into out (when not nil);
// the daemon's {"error": ...} becomes the error.
func (a *Client) Do(method, path string, body io.Reader, out any) error {
	req, err := http.NewRequest(method, a.base+path, body)
	if err != nil {
		return err
	}
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		return fmt.Errorf("storebox daemon at %s: %w (is it running?)", a.base, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusUnauthorized && a.tokenErr != nil {
		return fmt.Errorf("%s %s needs the admin token: %w", method, path, a.tokenErr)
	}
	if err := a.otherDataDir(resp.StatusCode); err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(b, &e) == nil && e.Error != "" {
			return fmt.Errorf("%s", e.Error)
		}
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(b))
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

// OtherDataDirError is a daemon refusing the admin token of the CLI's data
// directory because it runs from another one.
type OtherDataDirError struct {
	Addr, DataDir, Why string
}

func (e *OtherDataDirError) Error() string {
	return fmt.Sprintf("the daemon at %s refused the admin token of %s: it runs with another data directory than %s (%s); give the CLI the daemon's with --data-dir DIR, or the config it runs with with --config FILE",
		e.Addr, e.DataDir, e.DataDir, e.Why)
}

// otherDataDir explains a 401 to a request that carried this data
// directory's token, when the daemon answering is not the one of it.
func (a *Client) otherDataDir(status int) error {
	if status != http.StatusUnauthorized || a.token == "" || a.dataDir == "" {
		return nil
	}
	addr := strings.TrimPrefix(a.base, "http://")
	if why := readyfile.Elsewhere(a.dataDir, addr); why != "" {
		dir := a.dataDir
		if abs, err := filepath.Abs(dir); err == nil {
			dir = abs
		}
		return &OtherDataDirError{Addr: addr, DataDir: dir, Why: why}
	}
	return nil
}

// Stream copies a GET response body to w.
func (a *Client) Stream(method, path string, w io.Writer) error {
	req, err := http.NewRequest(method, a.base+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	resp, err := a.hc.Do(req)
	if err != nil {
		return fmt.Errorf("storebox daemon at %s: %w", a.base, err)
	}
	defer resp.Body.Close()
	if err := a.otherDataDir(resp.StatusCode); err != nil {
		return err
	}
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(b))
	}
	_, err = io.Copy(w, resp.Body)
	return err
}

// Post sends a POST without a body and returns the open 200 response for
// the caller to read as it arrives (a progress stream); any other status
// is the error.
func (a *Client) Post(ctx context.Context, path string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, "POST", a.base+path, nil)
	if err != nil {
		return nil, err
	}
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("storebox daemon at %s: %w", a.base, err)
	}
	if err := a.otherDataDir(resp.StatusCode); err != nil {
		resp.Body.Close()
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(b, &e) == nil && e.Error != "" {
			return nil, errors.New(e.Error)
		}
		return nil, fmt.Errorf("POST %s: %s: %s", path, resp.Status, strings.TrimSpace(string(b)))
	}
	return resp, nil
}
