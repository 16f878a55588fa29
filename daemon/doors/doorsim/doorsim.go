// Package doorsim is a door that speaks PROTOCOL.md §4 over MQTT, for the
// `storebox sim door` command, tests and the door benchmark. It answers open
// and lock commands with an ack (unless told not to), publishes its retained
// state (open, then closed after duration_ms) and sends scan events.
package doorsim

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"

	"github.com/storebox/storebox/protocol/doormsg"
)

// Config describes one simulated door.
type Config struct {
	Broker  string // host:port of the daemon's MQTT listener
	StoreID string
	DoorID  string
	Secret  string
	NoAck   bool        // receive cmds but never ack them
	TLS     *tls.Config // connect with TLS when set
	// KeepAlive in seconds (default 30).
	KeepAlive uint16
	// OnCmd, if set, sees every cmd received (after the ack is sent).
	OnCmd func(doormsg.Cmd)
	// OnDown, if set, is told when the connection is lost (the door then
	// reconnects every second), and OnReconnect when a later connection
	// is up and subscribed again. Neither may block.
	OnDown      func()
	OnReconnect func()
	Log         *slog.Logger
}

// Door is a running simulated door.
type Door struct {
	cfg    Config
	cm     *autopaho.ConnectionManager
	topics map[string]string
	log    *slog.Logger

	mu      sync.Mutex
	closeAt *time.Timer
	ups     int // connections made, the first included

	subscribed    chan struct{} // closed after the first cmd subscription
	subscribeOnce sync.Once
	subscribeErr  error // why the first subscription was refused; set before subscribed closes
}

// Start connects the door and waits for the first connection. ctx is the
// door's lifetime: it stays connected (reconnecting as needed) until ctx
// ends or Close. A refused CONNECT (wrong secret) is returned at once.
func Start(ctx context.Context, cfg Config) (*Door, error) {
	if cfg.DoorID == "" || cfg.StoreID == "" || cfg.Broker == "" {
		return nil, errors.New("doorsim: broker, store and door id are required")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.KeepAlive == 0 {
		cfg.KeepAlive = 30
	}
	scheme := "mqtt"
	if cfg.TLS != nil {
		scheme = "tls"
	}
	u, err := url.Parse(scheme + "://" + cfg.Broker)
	if err != nil {
		return nil, fmt.Errorf("doorsim: broker address %q: %w", cfg.Broker, err)
	}
	d := &Door{cfg: cfg, log: cfg.Log.With("door", cfg.DoorID), topics: map[string]string{}, subscribed: make(chan struct{})}
	for _, k := range []string{doormsg.KindCmd, doormsg.KindAck, doormsg.KindState, doormsg.KindEvent} {
		d.topics[k] = doormsg.Topic(cfg.StoreID, cfg.DoorID, k)
	}
	refused := make(chan error, 1)
	ac := autopaho.ClientConfig{
		ServerUrls:                    []*url.URL{u},
		TlsCfg:                        cfg.TLS,
		KeepAlive:                     cfg.KeepAlive,
		CleanStartOnInitialConnection: true,
		ReconnectBackoff:              autopaho.NewConstantBackoff(time.Second),
		ConnectTimeout:                10 * time.Second,
		ConnectUsername:               cfg.DoorID,
		ConnectPassword:               []byte(cfg.Secret),
		OnConnectionUp:                d.onUp,
		OnConnectionDown: func() bool {
			d.log.Info("door connection lost")
			if cfg.OnDown != nil {
				cfg.OnDown()
			}
			return true // keep reconnecting
		},
		OnConnectError: func(err error) {
			d.log.Warn("door connect failed", "error", err)
			var ce *autopaho.ConnackError
			if errors.As(err, &ce) {
				select {
				case refused <- err:
				default:
				}
			}
		},
		ClientConfig: paho.ClientConfig{
			ClientID:          cfg.DoorID,
			OnPublishReceived: []func(paho.PublishReceived) (bool, error){d.onPublish},
		},
	}
	cm, err := autopaho.NewConnection(ctx, ac)
	if err != nil {
		return nil, fmt.Errorf("doorsim: connect %s: %w", cfg.Broker, err)
	}
	d.setConn(cm)
	up := make(chan error, 1)
	go func() { up <- cm.AwaitConnection(ctx) }()
	select {
	case err := <-up:
		if err != nil {
			return nil, fmt.Errorf("doorsim: connect %s: %w", cfg.Broker, err)
		}
		// Ready means subscribed to cmd: a scan sent before that would be
		// answered with cmds this door never sees.
		select {
		case <-d.subscribed:
			if d.subscribeErr != nil {
				_ = cm.Disconnect(context.Background())
				return nil, fmt.Errorf("doorsim: %w", d.subscribeErr)
			}
			return d, nil
		case <-ctx.Done():
			return nil, fmt.Errorf("doorsim: subscribe %s: %w", cfg.Broker, ctx.Err())
		}
	case err := <-refused:
		_ = cm.Disconnect(context.Background())
		return nil, fmt.Errorf("doorsim: broker %s refused door %s: %w", cfg.Broker, cfg.DoorID, err)
	}
}

// setConn records the connection manager. OnConnectionUp can run before
// NewConnection has returned, so both places set it, under the lock.
func (d *Door) setConn(cm *autopaho.ConnectionManager) {
	d.mu.Lock()
	d.cm = cm
	d.mu.Unlock()
}

func (d *Door) conn() *autopaho.ConnectionManager {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cm
}

func (d *Door) onUp(cm *autopaho.ConnectionManager, _ *paho.Connack) {
	d.setConn(cm)
	d.mu.Lock()
	d.ups++
	again := d.ups > 1
	d.mu.Unlock()
	d.log.Info("door connected")
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		topic := d.topics[doormsg.KindCmd]
		sa, err := cm.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: topic, QoS: 1}}})
		if sa != nil {
			// paho reports a refusal with the SUBACK and an error that
			// only carries the (often empty) reason string.
			err = subscribeRefusal(sa, topic, d.cfg.StoreID)
		}
		if err == nil {
			d.publishState(ctx, doormsg.StateClosed)
			if again && d.cfg.OnReconnect != nil {
				d.cfg.OnReconnect()
			}
		}
		first := false
		d.subscribeOnce.Do(func() { first = true; d.subscribeErr = err; close(d.subscribed) })
		if err != nil && !first { // the first refusal is Start's error
			d.log.Error("subscribe to cmd refused", "error", err)
		}
	}()
}

// subscribeRefusal turns a SUBACK failure code into an error that says what
// to check. The storebox broker lets a door use only its own store's topics,
// so "not authorized" almost always means a store id that is not the
// daemon's.
func subscribeRefusal(sa *paho.Suback, topic, storeID string) error {
	if sa == nil || len(sa.Reasons) == 0 {
		return fmt.Errorf("the broker did not answer the subscription to %s", topic)
	}
	code := sa.Reasons[0]
	if code < 0x80 {
		return nil
	}
	why := map[byte]string{
		0x80: "unspecified error", 0x83: "implementation specific error", 0x87: "not authorized",
		0x8F: "topic filter invalid", 0x91: "packet identifier in use", 0x97: "quota exceeded",
	}[code]
	if why == "" {
		why = "refused"
	}
	if sa.Properties != nil && sa.Properties.ReasonString != "" {
		why += ": " + sa.Properties.ReasonString
	}
	err := fmt.Errorf("the broker refused the subscription to %s (reason 0x%02x, %s)", topic, code, why)
	if code == 0x87 || code == 0x80 {
		err = fmt.Errorf("%w; a door may only use its own store's topics: is %q the daemon's store_id? (storebox sim door --config FILE takes it from the config)", err, storeID)
	}
	return err
}

func (d *Door) onPublish(pr paho.PublishReceived) (bool, error) {
	c, err := doormsg.DecodeCmd(pr.Packet.Payload)
	if err != nil {
		d.log.Warn("bad cmd", "error", err)
		return true, nil
	}
	go d.handle(c)
	return true, nil
}

func (d *Door) handle(c doormsg.Cmd) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if !d.cfg.NoAck {
		_ = d.publish(ctx, doormsg.KindAck, doormsg.Encode(doormsg.Ack{RequestID: c.RequestID, OK: true}), false)
	}
	if d.cfg.OnCmd != nil {
		d.cfg.OnCmd(c)
	}
	if d.cfg.NoAck {
		return
	}
	switch c.Cmd {
	case doormsg.CmdOpen:
		d.publishState(ctx, doormsg.StateOpen)
		d.mu.Lock()
		if d.closeAt != nil {
			d.closeAt.Stop()
		}
		d.closeAt = time.AfterFunc(time.Duration(c.DurationMS)*time.Millisecond, func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			d.publishState(ctx, doormsg.StateClosed)
		})
		d.mu.Unlock()
	case doormsg.CmdLock:
		d.publishState(ctx, doormsg.StateClosed)
	}
}

func (d *Door) publish(ctx context.Context, kind string, body []byte, retain bool) error {
	_, err := d.conn().Publish(ctx, &paho.Publish{Topic: d.topics[kind], Payload: body, QoS: 1, Retain: retain})
	if err != nil {
		d.log.Warn("publish", "topic", d.topics[kind], "error", err)
		return fmt.Errorf("publish %s: %w", kind, err)
	}
	return nil
}

func (d *Door) publishState(ctx context.Context, state string) {
	_ = d.publish(ctx, doormsg.KindState, doormsg.Encode(doormsg.State{State: state, At: time.Now().UTC()}), true)
}

// Scan sends a scan event.
func (d *Door) Scan(ctx context.Context, openID, code string) error {
	return d.publish(ctx, doormsg.KindEvent, doormsg.Encode(doormsg.Event{Event: doormsg.EventScan, OpenID: openID, Code: code}), false)
}

// SetState publishes a retained state (open, closed or fault).
func (d *Door) SetState(ctx context.Context, state string) error {
	return d.publish(ctx, doormsg.KindState, doormsg.Encode(doormsg.State{State: state, At: time.Now().UTC()}), true)
}

// Close disconnects.
func (d *Door) Close() {
	d.mu.Lock()
	if d.closeAt != nil {
		d.closeAt.Stop()
	}
	d.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = d.conn().Disconnect(ctx)
}

// Run is the interactive simulator: it prints every cmd to out and reads
// lines from in — "scan OPENID [CODE]", "state open|closed|fault", "quit" —
// until ctx ends or "quit". The end of in does not stop it.
func Run(ctx context.Context, cfg Config, in io.Reader, out io.Writer) error {
	var mu sync.Mutex
	say := func(format string, a ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(out, format+"\n", a...)
	}
	prev := cfg.OnCmd
	cfg.OnCmd = func(c doormsg.Cmd) {
		acked := "acked"
		if cfg.NoAck {
			acked = "not acked (--no-ack)"
		}
		say("cmd %s requestId=%s openId=%s duration_ms=%d: %s", c.Cmd, c.RequestID, c.OpenID, c.DurationMS, acked)
		if prev != nil {
			prev(c)
		}
	}
	prevDown, prevUp := cfg.OnDown, cfg.OnReconnect
	cfg.OnDown = func() {
		say("door %s lost its connection to %s; reconnecting every second", cfg.DoorID, cfg.Broker)
		if prevDown != nil {
			prevDown()
		}
	}
	cfg.OnReconnect = func() {
		say("door %s reconnected to %s (store %s)", cfg.DoorID, cfg.Broker, cfg.StoreID)
		if prevUp != nil {
			prevUp()
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	d, err := Start(ctx, cfg)
	if err != nil {
		return err
	}
	defer d.Close()
	say("door %s connected to %s (store %s); type: scan OPENID [CODE] | state open|closed|fault | quit", cfg.DoorID, cfg.Broker, cfg.StoreID)
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(in)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-ctx.Done():
				return
			}
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case line := <-lines:
			f := strings.Fields(line)
			if len(f) == 0 {
				continue
			}
			switch {
			case f[0] == "quit" || f[0] == "exit":
				return nil
			case f[0] == "scan" && (len(f) == 2 || len(f) == 3):
				code := ""
				if len(f) == 3 {
					code = f[2]
				}
				if err := d.Scan(ctx, f[1], code); err != nil {
					say("scan failed: %v", err)
				} else {
					say("scan %s sent", f[1])
				}
			case f[0] == "state" && len(f) == 2:
				switch f[1] {
				case doormsg.StateOpen, doormsg.StateClosed, doormsg.StateFault:
					if err := d.SetState(ctx, f[1]); err != nil {
						say("state failed: %v", err)
					}
				default:
					say("state must be open, closed or fault")
				}
			default:
				say("unknown command %q; use: scan OPENID [CODE] | state open|closed|fault | quit", line)
			}
		}
	}
}
