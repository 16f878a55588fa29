package doors

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
	"golang.org/x/crypto/bcrypt"

	"github.com/storebox/storebox/daemon/config"
	"github.com/storebox/storebox/internal/backoff"
	"github.com/storebox/storebox/internal/listen"
)

// bind opens the configured listeners, all or none.
func (s *Service) bind() ([]*netListener, error) {
	var out []*netListener
	fail := func(err error) ([]*netListener, error) {
		for _, l := range out {
			_ = l.ln.Close()
		}
		return nil, err
	}
	m := s.cfg.MQTT
	if m.Listen != "" {
		ln, err := listen.TCP("mqtt.listen", m.Listen)
		if err != nil {
			return fail(err)
		}
		out = append(out, s.newListener("mqtt", ln))
	}
	if m.TLSListen != "" {
		tc, err := tlsConfig(m.TLSCert, m.TLSKey, m.TLSClientCA)
		if err != nil {
			return fail(err)
		}
		ln, err := listen.TCP("mqtt.tls_listen", m.TLSListen)
		if err != nil {
			return fail(err)
		}
		nl := s.newListener("mqtts", ln)
		nl.tls = tc
		out = append(out, nl)
	}
	return out, nil
}

func tlsConfig(certFile, keyFile, caFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("mqtt.tls_cert/tls_key: load %s, %s: %w", certFile, keyFile, err)
	}
	tc := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("mqtt.tls_client_ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("mqtt.tls_client_ca: %s holds no PEM certificate", caFile)
		}
		tc.ClientCAs = pool
		tc.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return tc, nil
}

// netListener is a mochi listener over an already bound socket. Unlike
// mochi's own, it gives each connection a deadline for its CONNECT (mochi
// replaces it with the keepalive deadline once CONNECT is read), keeps
// accepting after a transient accept error, and on Close ends every
// connection it handed out and waits for them: mochi's Close waits on a
// WaitGroup that its connection goroutines Add to, which must not race.
type netListener struct {
	id      string
	ln      net.Listener
	tls     *tls.Config
	timeout time.Duration
	log     *slog.Logger
	// disconnect says goodbye to this listener's clients on Close, in
	// place of the CloseFn mochi passes (see Service.closeListenerClients).
	disconnect func(listenerID string)

	mu     sync.Mutex
	closed bool
	conns  map[net.Conn]struct{}
	wg     sync.WaitGroup
}

func (s *Service) newListener(id string, ln net.Listener) *netListener {
	return &netListener{id: id, ln: ln, timeout: s.cfg.ConnectTimeout, log: s.log.With("listener", id),
		disconnect: s.closeListenerClients, conns: map[net.Conn]struct{}{}}
}

// closeListenerClients is what mochi's own CloseFn does, without its
// Clients.GetByListener: that takes the clients' read lock twice, and a
// door connecting or leaving in between (a writer queued on the lock)
// deadlocks the broker's Close, so the daemon never stops
// (mochi-mqtt/server#488, not fixed in v2.7.9; seen here in CI).
func (s *Service) closeListenerClients(listenerID string) {
	for _, cl := range s.broker.Clients.GetAll() {
		if cl.Net.Listener == listenerID && !cl.Closed() {
			_ = s.broker.DisconnectClient(cl, packets.ErrServerShuttingDown)
		}
	}
}

func (l *netListener) Init(*slog.Logger) error { return nil }
func (l *netListener) ID() string              { return l.id }
func (l *netListener) Address() string         { return l.ln.Addr().String() }
func (l *netListener) Protocol() string {
	if l.tls != nil {
		return "tls"
	}
	return "tcp"
}

func (l *netListener) Serve(establish listeners.EstablishFn) {
	// Running out of descriptors must slow the broker down, not stop it.
	pace := backoff.Policy{Min: 5 * time.Millisecond, Max: time.Second}
	failures := 0
	for {
		c, err := l.ln.Accept()
		if err != nil {
			if l.isClosed() || errors.Is(err, net.ErrClosed) {
				return
			}
			l.log.Warn("mqtt accept", "error", err)
			time.Sleep(pace.Delay(failures))
			failures++
			continue
		}
		failures = 0
		_ = c.SetDeadline(time.Now().Add(l.timeout))
		l.mu.Lock()
		if l.closed {
			l.mu.Unlock()
			_ = c.Close()
			return
		}
		l.conns[c] = struct{}{}
		l.wg.Add(1)
		l.mu.Unlock()
		go l.handle(c, establish)
	}
}

func (l *netListener) handle(raw net.Conn, establish listeners.EstablishFn) {
	defer func() {
		l.mu.Lock()
		delete(l.conns, raw)
		l.mu.Unlock()
		_ = raw.Close()
		l.wg.Done()
	}()
	c := raw
	if l.tls != nil {
		c = tls.Server(raw, l.tls)
	}
	if err := establish(l.id, c); err != nil {
		l.log.Debug("mqtt connection ended", "remote", raw.RemoteAddr().String(), "error", err)
	}
}

func (l *netListener) isClosed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closed
}

func (l *netListener) Close(listeners.CloseFn) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	l.closed = true
	l.mu.Unlock()
	_ = l.ln.Close()
	l.disconnect(l.id)
	l.mu.Lock()
	for c := range l.conns {
		_ = c.Close()
	}
	l.mu.Unlock()
	l.wg.Wait()
}

// aclHook authenticates doors, enforces the topic ACL and tracks presence.
type aclHook struct {
	mqtt.HookBase
	s *Service
}

func (h *aclHook) ID() string { return "storebox-doors" }

func (h *aclHook) Provides(b byte) bool {
	return bytes.Contains([]byte{mqtt.OnConnectAuthenticate, mqtt.OnACLCheck,
		mqtt.OnSessionEstablished, mqtt.OnDisconnect, mqtt.OnPacketRead, mqtt.OnPacketEncode}, []byte{b})
}

func (h *aclHook) OnConnectAuthenticate(cl *mqtt.Client, pk packets.Packet) bool {
	s := h.s
	user := string(pk.Connect.Username)
	refuse := func(why string) bool {
		s.authRefused.Add(1)
		s.refusals.refused(user, cl.Net.Remote, why)
		return false
	}
	d := s.door(user)
	if d == nil || !pk.Connect.UsernameFlag {
		if user == "" {
			return refuse("anonymous")
		}
		return refuse("unknown door")
	}
	if !s.checkSecret(d, pk.Connect.Password) {
		return refuse("wrong password")
	}
	if pk.Connect.WillFlag && !h.mayPublish(d, pk.Connect.WillTopic) {
		return refuse(fmt.Sprintf("will topic %q not allowed", pk.Connect.WillTopic))
	}
	// Every connection is its own broker session, named by the door and
	// a counter: a client id can then never take over another door's
	// session (or the daemon's "inline" one), and a door's reconnect does
	// not go through mochi v2.7.9's session takeover, whose cleanup of the
	// old connection can delete the new one's session and leave the door
	// deaf to cmds. A stale connection of the door ends by keepalive.
	cl.ID = fmt.Sprintf("%s#%d", user, s.connSeq.Add(1))
	return true
}

// checkSecret compares a door password with its configured secret. Plain
// secrets compare in constant time; a bcrypt hash is checked once per new
// password and the match remembered as a digest, so 1,000 doors
// reconnecting do not cost 1,000 bcrypt runs each time.
func (s *Service) checkSecret(d *door, pw []byte) bool {
	sum := sha256.Sum256(pw)
	if !d.bcrypt {
		want := sha256.Sum256([]byte(d.cfg.Secret))
		return subtle.ConstantTimeCompare(sum[:], want[:]) == 1
	}
	d.mu.Lock()
	known := d.verified
	d.mu.Unlock()
	if known != nil && subtle.ConstantTimeCompare(sum[:], known) == 1 {
		return true
	}
	s.bcryptSem <- struct{}{}
	err := bcrypt.CompareHashAndPassword([]byte(d.cfg.Secret), pw)
	<-s.bcryptSem
	if err != nil {
		return false
	}
	d.mu.Lock()
	d.verified = sum[:]
	d.mu.Unlock()
	return true
}

func (h *aclHook) mayPublish(d *door, topic string) bool {
	return topic == d.topics[tAck] || topic == d.topics[tState] || topic == d.topics[tEvent]
}

func (h *aclHook) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	if cl.Net.Inline {
		return true
	}
	d := h.s.door(string(cl.Properties.Username))
	if d == nil {
		return false
	}
	if write {
		return h.mayPublish(d, topic)
	}
	return topic == d.topics[tCmd]
}

func (h *aclHook) OnSessionEstablished(cl *mqtt.Client, pk packets.Packet) {
	// Checked again: a reload may have removed the door or changed its
	// secret since the connection authenticated, after Reload's sweep of
	// the connected clients. The secret check is a cached digest compare.
	d := h.s.door(string(cl.Properties.Username))
	if d == nil || !h.s.checkSecret(d, pk.Connect.Password) {
		cl.Stop(packets.ErrNotAuthorized)
		return
	}
	d.seen(time.Now())
	d.mu.Lock()
	d.conns[cl] = struct{}{}
	d.mu.Unlock()
	h.s.log.Info("door connected", "door", d.cfg.ID, "remote", cl.Net.Remote)
}

func (h *aclHook) OnDisconnect(cl *mqtt.Client, err error, _ bool) {
	d := h.s.door(string(cl.Properties.Username))
	if d == nil {
		return
	}
	d.mu.Lock()
	_, had := d.conns[cl]
	delete(d.conns, cl)
	d.mu.Unlock()
	if had {
		h.s.log.Info("door disconnected", "door", d.cfg.ID, "error", err)
	}
}

func (h *aclHook) OnPacketRead(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if pk.FixedHeader.Type == packets.Connect && pk.ProtocolVersion < 5 && pk.Connect.PasswordFlag && len(pk.Connect.Password) == 0 {
		// MQTT 3.1.1 allows an empty password (0 to 65535 bytes); mochi
		// takes it for a protocol violation and answers code 130, which
		// 3.1.1 does not have. Without the flag it is the wrong password it
		// is: refused by OnConnectAuthenticate with a code 3.1.1 defines.
		pk.Connect.PasswordFlag = false
		return pk, nil
	}
	if d := h.s.door(string(cl.Properties.Username)); d != nil {
		d.seen(time.Now())
	}
	return pk, nil
}

// OnPacketEncode keeps an MQTT 3.1.1 client's CONNACK to the return codes
// 3.1.1 defines (0-5): mochi answers some refusals of a CONNECT with a v5
// reason code (0x80 and up) whatever the client's version. The one it
// sends as 0x80 (unspecified) to a 3.1.1 client is a persistent session
// without a client id, which 3.1.1 refuses with 2 (identifier rejected)
// [MQTT-3.1.3-8]; any other becomes 5 (not authorized). The connection
// closes as before.
func (h *aclHook) OnPacketEncode(cl *mqtt.Client, pk packets.Packet) packets.Packet {
	if pk.FixedHeader.Type != packets.Connack || cl.Properties.ProtocolVersion >= 5 || pk.ReasonCode <= packets.Err3NotAuthorized.Code {
		return pk
	}
	if pk.ReasonCode == packets.ErrUnspecifiedError.Code {
		pk.ReasonCode = packets.Err3ClientIdentifierNotValid.Code
	} else {
		pk.ReasonCode = packets.Err3NotAuthorized.Code
	}
	return pk
}

// levelHandler drops records below min: mochi logs every connection at
// info and every failed one at warn, too much for a store's journal.
type levelHandler struct {
	h   slog.Handler
	min slog.Level
}

func (l *levelHandler) Enabled(ctx context.Context, lv slog.Level) bool {
	return lv >= l.min && l.h.Enabled(ctx, lv)
}
func (l *levelHandler) Handle(ctx context.Context, r slog.Record) error { return l.h.Handle(ctx, r) }
func (l *levelHandler) WithAttrs(a []slog.Attr) slog.Handler {
	return &levelHandler{h: l.h.WithAttrs(a), min: l.min}
}
func (l *levelHandler) WithGroup(n string) slog.Handler {
	return &levelHandler{h: l.h.WithGroup(n), min: l.min}
}

func brokerLevel(p *slog.Level) slog.Level {
	if p != nil {
		return *p
	}
	return slog.LevelError
}

// CheckConfig runs what New and Bind would refuse in the doors and the
// broker's TLS files, binding and starting nothing. config.Validate is
// meant to refuse all of it first, with the file's line; the daemon's
// FuzzConfigCheckAgreesWithParts holds it to that.
func CheckConfig(storeID string, m config.MQTT, doors []config.Door) error {
	s := &Service{cfg: Config{StoreID: storeID, MQTT: m}}
	if _, _, err := s.buildDoors(doors, nil); err != nil {
		return err
	}
	if m.TLSListen != "" {
		if _, err := tlsConfig(m.TLSCert, m.TLSKey, m.TLSClientCA); err != nil {
			return err
		}
	}
	return nil
}
