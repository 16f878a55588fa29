package devices

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/storebox/storebox/daemon/store"
	"github.com/storebox/storebox/daemon/store/admission"
	"github.com/storebox/storebox/internal/peerlimit"
	"github.com/storebox/storebox/protocol/charset"
	"github.com/storebox/storebox/protocol/devmsg"
	"github.com/storebox/storebox/protocol/frame"
)

// Session is one device connection.
type Session struct {
	srv *Server
	nc  net.Conn
	fr  *frame.Reader

	out       chan []byte
	wmu       sync.Mutex // one writer at a time: replies inline, pushes from writeLoop
	held      []byte     // replies held while pipelined requests are buffered (session goroutine only)
	wbuf      []byte     // reused to frame a reply written at once (session goroutine only)
	done      chan struct{}
	closeOnce sync.Once
	closeWhy  atomic.Value

	loggedIn atomic.Bool
	since    time.Time
	lastRead atomic.Int64

	// Set at login; read by other goroutines under srv.mu or after loggedIn.
	mu       sync.Mutex
	equipID  string
	uniqueID string
	kind     string
	macID    string
	gbk      bool
	mode     frame.Mode
}

func newSession(s *Server, nc net.Conn) *Session {
	return &Session{
		srv:   s,
		nc:    nc,
		fr:    frame.NewReader(nc, frame.MaxSize),
		out:   make(chan []byte, s.cfg.OutboundQueue),
		done:  make(chan struct{}),
		since: time.Now(),
	}
}

// EquipID is the device id the session logged in with.
func (c *Session) EquipID() string { c.mu.Lock(); defer c.mu.Unlock(); return c.equipID }

// Kind is terminal, scale, label or door.
func (c *Session) Kind() string { c.mu.Lock(); defer c.mu.Unlock(); return c.kind }

// UniqueID is the session id given at login.
func (c *Session) UniqueID() string { c.mu.Lock(); defer c.mu.Unlock(); return c.uniqueID }

// MacID is the label MAC a label session logged in with.
func (c *Session) MacID() string { c.mu.Lock(); defer c.mu.Unlock(); return c.macID }

func (c *Session) info() SessionInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	cs := charset.UTF8
	if c.gbk {
		cs = charset.GBK
	}
	return SessionInfo{EquipID: c.equipID, Kind: c.kind, Addr: c.nc.RemoteAddr().String(), Charset: cs,
		Framing: c.mode.String(), MacID: c.macID, Since: c.since, LastFrame: time.Unix(0, c.lastRead.Load())}
}

func (c *Session) close(why string) {
	c.closeOnce.Do(func() {
		c.closeWhy.Store(why)
		close(c.done)
		c.nc.Close()
	})
}

// Push queues a server push; a full queue closes the session (a slow reader
// must never hold up the others).
func (c *Session) Push(action string, body any) bool {
	b, err := devmsg.EncodePush(action, c.UniqueID(), body)
	if err != nil {
		c.srv.log.Error("encode push", "action", action, "err", err)
		return false
	}
	return c.enqueue(b) == nil
}

func (c *Session) frameBytes(payload []byte) []byte {
	return c.appendFrame(make([]byte, 0, len(payload)+5), payload)
}

// appendFrame appends payload to dst in the session's charset and framing.
func (c *Session) appendFrame(dst, payload []byte) []byte {
	c.mu.Lock()
	gbk, mode := c.gbk, c.mode
	c.mu.Unlock()
	if gbk {
		payload = charset.EncodeJSONToGBK(payload)
	}
	if mode == frame.ModeUnknown {
		mode = frame.ModeLine
	}
	return frame.Append(dst, mode, payload)
}

// reply writes a reply from the session's own goroutine, saving a hand-off
// to writeLoop; while pushes are queued it queues behind them instead. A
// device that stops reading blocks only its own session, until the write
// deadline closes it.
//
// A device that pipelines requests gets its replies in one write: while
// another whole request is already buffered, replies are held (up to 64 KiB)
// and written together before the session can wait for input again. A reply
// written at once is framed in a buffer the session reuses.
func (c *Session) reply(payload []byte) {
	if len(c.out) > 0 {
		c.flushHeld()
		c.enqueueFramed(c.frameBytes(payload))
		return
	}
	if c.fr.HasFrame() && len(c.held)+len(payload)+5 < 64<<10 {
		c.held = c.appendFrame(c.held, payload)
		return
	}
	if len(c.held) > 0 {
		c.held = c.appendFrame(c.held, payload)
		c.flushHeld()
		return
	}
	c.wbuf = c.appendFrame(c.wbuf[:0], payload)
	c.write(c.wbuf)
	if cap(c.wbuf) > 64<<10 {
		c.wbuf = nil // one large reply does not pin its buffer
	}
}

// flushHeld writes replies held back by reply.
func (c *Session) flushHeld() {
	if len(c.held) > 0 {
		c.write(c.held)
		c.held = c.held[:0]
	}
}

func (c *Session) write(b []byte) {
	c.wmu.Lock()
	c.nc.SetWriteDeadline(time.Now().Add(c.srv.cfg.WriteTimeout))
	_, err := c.nc.Write(b)
	c.wmu.Unlock()
	if err != nil {
		c.close("write: " + err.Error())
	}
}

func (c *Session) enqueue(payload []byte) error { return c.enqueueFramed(c.frameBytes(payload)) }

func (c *Session) enqueueFramed(b []byte) error {
	select {
	case <-c.done:
		return io.ErrClosedPipe
	default:
	}
	select {
	case c.out <- b:
		return nil
	default:
		c.srv.log.Warn("device not reading; closing session", "equipId", c.EquipID(), "queue", cap(c.out))
		c.close("outbound queue full (device not reading)")
		return errFull
	}
}

func (c *Session) writeLoop() {
	buf := make([]byte, 0, 4096)
	for {
		select {
		case <-c.done:
			return
		case b := <-c.out:
			buf = append(buf[:0], b...)
			// Coalesce what is already queued into one write.
		drain:
			for len(buf) < 64<<10 {
				select {
				case b := <-c.out:
					buf = append(buf, b...)
				default:
					break drain
				}
			}
			c.wmu.Lock()
			c.nc.SetWriteDeadline(time.Now().Add(c.srv.cfg.WriteTimeout))
			_, err := c.nc.Write(buf)
			c.wmu.Unlock()
			if err != nil {
				c.close("write: " + err.Error())
				return
			}
			if cap(buf) > 256<<10 {
				buf = make([]byte, 0, 4096)
			}
		}
	}
}

// refuseBusy answers the first frame with busy and closes: the server is at
// devices.max_connections.
func (c *Session) refuseBusy() {
	defer c.nc.Close()
	c.nc.SetDeadline(time.Now().Add(2 * time.Second))
	payload, err := c.fr.Next()
	if err != nil {
		return
	}
	req, _ := devmsg.Decode(payload)
	b, _ := devmsg.EncodeReply(req.Head, nil, devmsg.Errorf(devmsg.CodeBusy, "server is at its connection limit (%d); try again later", c.srv.cfg.MaxConnections))
	c.nc.Write(frame.Append(nil, c.fr.Mode(), b))
}

func (c *Session) run(ctx context.Context) {
	go c.writeLoop()
	defer c.close("connection ended")
	for {
		if !c.fr.HasFrame() {
			c.flushHeld() // Next may wait for input: nothing may stay held
		}
		c.nc.SetReadDeadline(time.Now().Add(c.srv.readTimeout()))
		payload, err := c.fr.Next()
		if err != nil {
			c.readFailed(err)
			return
		}
		c.lastRead.Store(time.Now().UnixNano())
		c.mu.Lock()
		if c.mode == frame.ModeUnknown {
			c.mode = c.fr.Mode()
		}
		gbk := c.gbk
		c.mu.Unlock()
		if gbk {
			if payload, err = charset.DecodeGBK(payload); err != nil {
				c.replyErr(devmsg.Head{}, devmsg.Errorf(devmsg.CodeBadRequest, "%v", err))
				continue
			}
		}
		c.handle(ctx, payload)
	}
}

func (c *Session) readFailed(err error) {
	c.flushHeld() // replies to the requests before the bad one still go out
	var ne net.Error
	switch {
	case errors.Is(err, frame.ErrTooLarge), errors.Is(err, frame.ErrZeroLength), errors.Is(err, frame.ErrModeViolation):
		c.mu.Lock()
		if c.mode == frame.ModeUnknown {
			c.mode = c.fr.Mode()
		}
		c.mu.Unlock()
		// Best effort: the error frame, then close.
		b, _ := devmsg.EncodeReply(devmsg.Head{Action: "error"}, nil, devmsg.Errorf(devmsg.CodeBadRequest, "%v; closing connection", err))
		c.mu.Lock()
		mode := c.mode
		c.mu.Unlock()
		c.nc.SetWriteDeadline(time.Now().Add(time.Second))
		c.nc.Write(frame.Append(nil, mode, b))
		c.lingerClose()
		c.srv.log.Info("closing device connection on framing error", "addr", c.nc.RemoteAddr(), "equipId", c.EquipID(), "err", err)
	case errors.As(err, &ne) && ne.Timeout():
		c.srv.log.Info("closing silent device connection", "addr", c.nc.RemoteAddr(), "equipId", c.EquipID(), "silent_for", c.srv.readTimeout())
	}
}

// lingerClose half-closes and drains what the peer is still sending for a
// moment, so closing with unread input does not reset the connection and
// destroy the error frame before the device reads it.
func (c *Session) lingerClose() {
	tc, ok := c.nc.(*net.TCPConn)
	if !ok {
		return
	}
	tc.CloseWrite()
	tc.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	io.Copy(io.Discard, io.LimitReader(tc, 8<<20))
}

func (c *Session) replyErr(h devmsg.Head, e *devmsg.Error) {
	if h.Action == "" {
		h.Action = "error"
	}
	h.UniqueID = c.UniqueID()
	b, err := devmsg.EncodeReply(h, nil, e)
	if err == nil {
		c.reply(b)
	}
}

func (c *Session) handle(ctx context.Context, payload []byte) {
	start := time.Now()
	req, derr := devmsg.Decode(payload)
	if derr != nil {
		c.srv.observe(c.srv.metricAction(req.Head.Action), derr.Code, start)
		c.replyErr(req.Head, derr)
		return
	}
	action := req.Head.Action
	if action == "healthReturn" {
		return // the device answering our heartbeat: reading it refreshed the deadline
	}
	var body any
	var err error
	switch {
	case action == "login":
		body, err = c.login(req)
	case action == "health":
		// Answered before login too, so a device can probe liveness.
	case !c.loggedIn.Load():
		err = devmsg.Errorf(devmsg.CodeNotLoggedIn, "log in first (action login)")
	default:
		h, ok := c.srv.handlers[action]
		if !ok {
			err = devmsg.Errorf(devmsg.CodeUnknownAction, "unknown action %q", action)
			break
		}
		body, err = c.call(ctx, h, req)
	}
	h := req.Head
	h.UniqueID = c.UniqueID()
	var e *devmsg.Error
	code := ""
	if err != nil {
		e = devmsg.AsError(err)
		code = e.Code
		if e.Code == devmsg.CodeInternal {
			c.srv.log.Error("action failed", "action", action, "equipId", c.EquipID(), "err", err)
			e = devmsg.Errorf(devmsg.CodeInternal, "internal error; see the storebox log")
		}
	}
	b, merr := devmsg.EncodeReply(h, body, e)
	if merr != nil {
		c.srv.log.Error("encode reply", "action", action, "err", merr)
		b, _ = devmsg.EncodeReply(h, nil, devmsg.Errorf(devmsg.CodeInternal, "could not encode reply"))
	}
	// Counted before the reply goes out: a device (or a test) that reads
	// the metrics after its reply must find its request there.
	c.srv.observe(c.srv.metricAction(action), code, start)
	c.reply(b)
	if action == "login" && err == nil {
		for _, after := range c.srv.afterLogin {
			after(c) // after the reply, so the device sees it first
		}
	}
}

// call runs a handler, turning a panic into an internal error so one bad
// request cannot take the daemon down.
func (c *Session) call(ctx context.Context, h Handler, req *devmsg.Request) (body any, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic in %s: %v", req.Head.Action, r)
		}
	}()
	return h(ctx, c, req)
}

// metricAction is the action's metrics label: a device may send any action
// name, so names the server does not know share one label rather than
// growing the metrics without bound.
func (s *Server) metricAction(a string) string {
	switch {
	case a == "":
		return "(none)"
	case a == "login", a == "health":
		return a
	}
	if _, ok := s.handlers[a]; ok {
		return a
	}
	return "(unknown)"
}

type loginBody struct {
	Kind    string `json:"kind"`
	Charset string `json:"charset"`
	Token   string `json:"token"`
	MacID   string `json:"mac_id"`
	Name    string `json:"name"`
}

type loginReply struct {
	UniqueID    string `json:"uniqueId"`
	HeartbeatS  int    `json:"heartbeat_s"`
	Status      string `json:"status,omitempty"`
	StoreWarehs string `json:"warehouse,omitempty"`
}

// Kinds of device.
const (
	KindTerminal = "terminal"
	KindScale    = "scale"
	KindLabel    = "label"
	KindDoor     = "door"
)

// InferKind applies PROTOCOL.md §2.4's rule for a login without kind.
func InferKind(equipID string) string {
	switch {
	case strings.HasPrefix(equipID, "DZC_"):
		return KindScale
	case strings.HasPrefix(equipID, "ESL_"):
		return KindLabel
	}
	return KindTerminal
}

func (c *Session) login(req *devmsg.Request) (any, error) {
	var b loginBody
	if e := req.DecodeBody(&b); e != nil {
		return nil, e
	}
	id := strings.TrimSpace(req.Head.EquipID)
	if err := devmsg.CheckEquipID(id); err != nil {
		return nil, devmsg.Errorf(devmsg.CodeBadRequest, "head.equipId %v (1-%d bytes, no control characters)", err, devmsg.MaxEquipID)
	}
	for _, f := range []struct {
		key, v    string
		max       int
		printable bool
	}{{"body.name", b.Name, devmsg.MaxName, false}, {"body.mac_id", b.MacID, devmsg.MaxMacID, true}, {"body.token", b.Token, devmsg.MaxToken, false}} {
		if err := devmsg.CheckField(f.v, f.max, f.printable); err != nil {
			return nil, devmsg.Errorf(devmsg.CodeBadRequest, "%s %v", f.key, err)
		}
	}
	if b.Kind == "" {
		b.Kind = InferKind(id)
	}
	switch b.Kind {
	case KindTerminal, KindScale, KindLabel, KindDoor:
	default:
		return nil, devmsg.Errorf(devmsg.CodeBadRequest, "body.kind %q is not terminal, scale, label or door", b.Kind)
	}
	cs, err := charset.Normalize(b.Charset)
	if err != nil {
		return nil, devmsg.Errorf(devmsg.CodeBadRequest, "body.charset: %v", err)
	}
	if b.Kind == KindLabel && b.MacID == "" {
		b.MacID = id
	}
	tokenOK := false
	if want, ok := c.srv.cfg.Tokens[id]; ok {
		if subtle.ConstantTimeCompare([]byte(want), []byte(b.Token)) != 1 {
			return nil, devmsg.Errorf(devmsg.CodeForbidden, "device %s must present its configured token", id)
		}
		tokenOK = true
	}
	initial := admission.DevicePending
	if c.srv.openAdmission() || tokenOK {
		initial = admission.DeviceApproved
	}
	client := peerlimit.KeyOf(c.nc.RemoteAddr())
	newAllowed := func() bool { return c.srv.newDevices == nil || c.srv.newDevices.Allow(client) }
	d, err := c.srv.records.SeeDevice(admission.Device{EquipID: id, Kind: b.Kind, Name: b.Name, MacID: b.MacID, Addr: c.nc.RemoteAddr().String()}, initial, newAllowed)
	if errors.Is(err, admission.ErrNewRefused) {
		c.srv.newLimited.refused(c.srv.log, client, id)
		return nil, devmsg.Errorf(devmsg.CodeBusy, "too many new devices from this address (devices.new_devices_per_minute = %d); device %s is not recorded; try again later", c.srv.cfg.NewDevicesPerMinute, id)
	}
	if errors.Is(err, admission.ErrPendingFull) {
		c.srv.pendingFull.refused(c.srv.log, id, c.nc.RemoteAddr().String())
		return nil, devmsg.Errorf(devmsg.CodeBusy, "%d devices are already waiting for approval; device %s is not recorded until the technician approves or rejects some (storebox devices forget-pending clears them)", admission.MaxPending, id)
	}
	if err != nil {
		return nil, fmt.Errorf("record device %s: %w", id, err)
	}
	switch {
	case d.Status == admission.DeviceRejected:
		return nil, devmsg.Errorf(devmsg.CodeForbidden, "device %s was rejected by the store technician", id)
	case d.Status == admission.DevicePending && !tokenOK && !c.srv.openAdmission():
		return nil, devmsg.Errorf(devmsg.CodePendingApproval, "device %s is waiting for approval (storebox devices approve %s)", id, id)
	}
	c.mu.Lock()
	if c.loggedIn.Load() && c.equipID != id {
		c.mu.Unlock()
		return nil, devmsg.Errorf(devmsg.CodeConflict, "this connection is logged in as %s", c.equipID)
	}
	prevMac := c.macID
	c.equipID, c.kind, c.gbk = id, b.Kind, cs == charset.GBK
	c.macID = ""
	if b.Kind == KindLabel {
		c.macID = normalizeMAC(b.MacID)
	}
	c.uniqueID = fmt.Sprintf("%s#%d", id, c.srv.loginN.Add(1))
	uid := c.uniqueID
	c.mu.Unlock()
	c.loggedIn.Store(true)
	c.srv.register(c, prevMac)
	return loginReply{UniqueID: uid, HeartbeatS: int(c.srv.cfg.Heartbeat / time.Second)}, nil
}

func normalizeMAC(m string) string { return store.NormalizeMAC(m) }
