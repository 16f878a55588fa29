// Package config loads and validates storebox's TOML configuration.
//
// Every key has a default, so an empty or absent file is a valid
// configuration. Errors name the file, the line, the key and what is wrong,
// because the person reading them is a technician with a text editor.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"

	"github.com/storebox/storebox/protocol/devmsg"
	"github.com/storebox/storebox/protocol/doormsg"
	"github.com/storebox/storebox/protocol/scaleproto"
)

// Duration is a time.Duration written in TOML as a string such as "60s".
type Duration struct{ time.Duration }

// UnmarshalText parses Go duration syntax, plus whole days in front
// ("90d", "1d12h"): retention is thought of in days.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := parseDuration(string(b))
	if err != nil {
		return fmt.Errorf("not a duration (use e.g. \"500ms\", \"60s\", \"15m\")")
	}
	if v < 0 {
		return fmt.Errorf("duration must not be negative")
	}
	d.Duration = v
	return nil
}

// parseDuration is time.ParseDuration with an optional leading count of
// days ("90d", "1d12h").
func parseDuration(s string) (time.Duration, error) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 || i >= len(s) || s[i] != 'd' {
		return time.ParseDuration(s)
	}
	days, err := strconv.Atoi(s[:i])
	if err != nil || days > 100*366 {
		return 0, fmt.Errorf("bad day count %q", s[:i])
	}
	v := time.Duration(days) * 24 * time.Hour
	if rest := s[i+1:]; rest != "" {
		r, err := time.ParseDuration(rest)
		if err != nil || r < 0 {
			return 0, fmt.Errorf("bad duration %q", s)
		}
		v += r
	}
	return v, nil
}

// MarshalText writes the duration back in Go syntax.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.Duration.String()), nil }

// Config is the whole daemon configuration.
type Config struct {
	StoreID   string `toml:"store_id"`
	StoreName string `toml:"store_name"`
	DataDir   string `toml:"data_dir"`
	Warehouse string `toml:"warehouse"`

	Log       Log       `toml:"log"`
	Devices   Devices   `toml:"devices"`
	Discovery Discovery `toml:"discovery"`
	MQTT      MQTT      `toml:"mqtt"`
	HTTP      HTTP      `toml:"http"`
	Upstream  Upstream  `toml:"upstream"`
	Orders    Orders    `toml:"orders"`
	Payments  Payments  `toml:"payments"`
	Doors     []Door    `toml:"doors"`
	Scales    []Scale   `toml:"scales"`
	Fleet     Fleet     `toml:"fleet"`
	Receipt   Receipt   `toml:"receipt"`
	Printers  []Printer `toml:"printers"`

	// Path is the file this configuration came from ("" for defaults).
	Path string `toml:"-"`
	// lines maps dotted keys to their line in the file, for error messages.
	lines map[string]int
}

// Log selects log level and format.
type Log struct {
	Level  string `toml:"level"`  // debug|info|warn|error
	Format string `toml:"format"` // auto|text|json
}

// Devices configures the device protocol server (PROTOCOL.md §2).
type Devices struct {
	Listen         string   `toml:"listen"`
	Admission      string   `toml:"admission"` // open|pairing
	Heartbeat      Duration `toml:"heartbeat"`
	MaxConnections int      `toml:"max_connections"`
	// MaxConnsPerAddress caps the connections of one client (an IPv4
	// address or an IPv6 /64), so one host cannot take every descriptor.
	MaxConnsPerAddress int `toml:"max_conns_per_address"`
	// NewDevicesPerMinute is how many equipIds the store does not know one
	// client may log in under pairing (at once, then spread over a minute).
	NewDevicesPerMinute int               `toml:"new_devices_per_minute"`
	OutboundQueue       int               `toml:"outbound_queue"`
	Tokens              map[string]string `toml:"tokens"` // equipId → token the device must present
	// Approve and Reject are equipIds approved or rejected at start and at
	// each reload (the fleet's remote configuration sets them too).
	Approve []string `toml:"approve"`
	Reject  []string `toml:"reject"`
}

// Discovery configures UDP discovery and mDNS (PROTOCOL.md §3).
type Discovery struct {
	Listen string `toml:"listen"`
	MDNS   bool   `toml:"mdns"`
}

// MQTT configures the embedded broker (PROTOCOL.md §4).
type MQTT struct {
	Listen      string `toml:"listen"`
	TLSListen   string `toml:"tls_listen"`
	TLSCert     string `toml:"tls_cert"`
	TLSKey      string `toml:"tls_key"`
	TLSClientCA string `toml:"tls_client_ca"`
}

// HTTP configures the local status page, API and metrics (PROTOCOL.md §5).
type HTTP struct {
	Listen     string `toml:"listen"`
	AdminToken string `toml:"admin_token"`
	// ReadAuth keeps the page and every read endpoint behind the admin
	// token (or a signed-in session); false opens them on a trusted LAN.
	ReadAuth bool `toml:"read_auth"`
	// MetricsAuth puts /metrics behind the token too.
	MetricsAuth bool `toml:"metrics_auth"`
	// ReadTimeout bounds reading a request's headers, and its body from
	// the handler's start; IdleTimeout closes a keep-alive connection with
	// no request. Neither touches a running event stream.
	ReadTimeout Duration `toml:"read_timeout"`
	IdleTimeout Duration `toml:"idle_timeout"`
	// MaxConnsPerAddress caps the connections of one client (an IPv4
	// address or an IPv6 /64).
	MaxConnsPerAddress int `toml:"max_conns_per_address"`
}

// Upstream configures the cloud connection (UPSTREAM.md §1–2).
type Upstream struct {
	URL             string   `toml:"url"`
	Secret          string   `toml:"secret"`
	Kind            string   `toml:"kind"` // http|nats
	BatchEvents     int      `toml:"batch_events"`
	CatalogInterval Duration `toml:"catalog_interval"`
	Timeout         Duration `toml:"timeout"`
	NATSURL         string   `toml:"nats_url"`
	NATSStream      string   `toml:"nats_stream"`
	NATSSubject     string   `toml:"nats_subject"`
}

// Fleet configures health reporting and remote configuration (UPSTREAM.md §7).
type Fleet struct {
	HealthInterval Duration `toml:"health_interval"`
	ConfigInterval Duration `toml:"config_interval"`
	QueueAlarmAge  Duration `toml:"queue_alarm_age"`
	RemoteConfig   bool     `toml:"remote_config"`
}

// Orders configures order handling.
type Orders struct {
	PaymentTTL Duration `toml:"payment_ttl"`
	// Retention is how long a finished order is kept after it closed once
	// the cloud has acknowledged its ledger events (orders/retention.go).
	Retention Duration `toml:"retention"`
}

// Payments selects the provider for qr, card and atm payments.
type Payments struct {
	Provider string `toml:"provider"` // ""|qpay|test
	QPay     QPay   `toml:"qpay"`
}

// QPay holds SinoPac QPay credentials and endpoints.
type QPay struct {
	BaseURL      string   `toml:"base_url"`
	ShopNo       string   `toml:"shop_no"`
	A1           string   `toml:"a1"`
	A2           string   `toml:"a2"`
	B1           string   `toml:"b1"`
	B2           string   `toml:"b2"`
	ReturnURL    string   `toml:"return_url"`
	BackendURL   string   `toml:"backend_url"`
	PollInterval Duration `toml:"poll_interval"`
	PollMax      Duration `toml:"poll_max"`
}

// Door is one MQTT-connected door (PROTOCOL.md §4).
type Door struct {
	ID       string   `toml:"id"`
	Secret   string   `toml:"secret"` // plain or bcrypt hash ($2a$/$2b$/$2y$)
	Policy   string   `toml:"policy"` // entry|exit|staff
	Terminal string   `toml:"terminal"`
	Staff    []string `toml:"staff"`
	OpenMS   int      `toml:"open_ms"` // the open cmd's duration_ms; 0: 3000
}

// Scale is one serial scale.
type Scale struct {
	ID       string `toml:"id"`
	Port     string `toml:"port"`
	Protocol string `toml:"protocol"`
	Baud     int    `toml:"baud"`
	DataBits int    `toml:"data_bits"`
	Parity   string `toml:"parity"`    // none|even|odd
	StopBits int    `toml:"stop_bits"` // 1|2
	PollMS   int    `toml:"poll_ms"`
	Terminal string `toml:"terminal"`
}

// Receipt is what a store puts on its receipts (PROTOCOL.md §8).
type Receipt struct {
	Width     int      `toml:"width"`      // columns of printList; 32 (58 mm paper), 42 or 48 (80 mm)
	StoreName string   `toml:"store_name"` // the receipt's title; "" uses store_name
	Header    []string `toml:"header"`     // address, tax id… under the title
	Footer    []string `toml:"footer"`     // thanks, returns policy… at the end
	QR        bool     `toml:"qr"`         // printers add a QR code of the order id
	Decimals  int      `toml:"decimals"`   // digits of an amount below the unit
	Timezone  string   `toml:"timezone"`   // IANA zone of the printed time; "" the box's
}

// Printer is one ESC/POS receipt printer (PROTOCOL.md §8).
type Printer struct {
	ID        string   `toml:"id"`
	Connect   string   `toml:"connect"`   // tcp://HOST:PORT, a device path, serial:PATH@BAUD, spooler:NAME (Windows)
	Terminals []string `toml:"terminals"` // equipIds whose paid orders print here; ["*"] all
	Codepage  string   `toml:"codepage"`  // gb18030 (default), big5, cp437, …
	Width     int      `toml:"width"`     // columns; 0 uses receipt.width
	Cut       *bool    `toml:"cut"`       // cut the paper after a receipt; default true
	Drawer    string   `toml:"drawer"`    // "cash": open the drawer for cash payments; "" never
}

// CutPaper reports whether the printer cuts after a receipt.
func (p Printer) CutPaper() bool { return p.Cut == nil || *p.Cut }

// PrinterCodepages are the printer code pages the driver encodes.
var PrinterCodepages = []string{"gb18030", "big5", "shift_jis", "euc-kr", "cp437", "cp850", "cp858", "cp866", "cp1252", "iso-8859-15"}

// Default returns the configuration used when no file is given.
func Default() *Config {
	return &Config{
		StoreID:   "store-1",
		StoreName: "storebox",
		DataDir:   DefaultHandDataDir,
		Warehouse: "main",
		Log:       Log{Level: "info", Format: "auto"},
		Devices: Devices{
			Listen:         ":8686",
			Admission:      "pairing",
			Heartbeat:      Duration{15 * time.Second},
			MaxConnections: 10000,
			OutboundQueue:  256,

			MaxConnsPerAddress:  64,
			NewDevicesPerMinute: 60,
		},
		Discovery: Discovery{Listen: ":8686", MDNS: true},
		MQTT:      MQTT{Listen: ":1883"},
		HTTP: HTTP{Listen: ":8680", ReadAuth: true,
			ReadTimeout: Duration{30 * time.Second}, IdleTimeout: Duration{60 * time.Second}, MaxConnsPerAddress: 64},
		Upstream: Upstream{
			Kind:            "http",
			BatchEvents:     500,
			CatalogInterval: Duration{60 * time.Second},
			Timeout:         Duration{10 * time.Second},
			NATSStream:      "STOREBOX",
		},
		Orders:   Orders{PaymentTTL: Duration{15 * time.Minute}, Retention: Duration{90 * 24 * time.Hour}},
		Payments: Payments{QPay: QPay{PollInterval: Duration{2 * time.Second}, PollMax: Duration{30 * time.Second}}},
		Fleet: Fleet{HealthInterval: Duration{60 * time.Second}, ConfigInterval: Duration{60 * time.Second},
			QueueAlarmAge: Duration{15 * time.Minute}, RemoteConfig: true},
		Receipt: Receipt{Width: 32, Decimals: 2},
	}
}

// Error is a configuration error located in the file.
type Error struct {
	File string
	Line int // 0 when unknown (e.g. a missing key)
	Key  string
	Msg  string
}

func (e *Error) Error() string {
	loc := e.File
	if loc == "" {
		loc = "config"
	}
	if e.Line > 0 {
		loc = fmt.Sprintf("%s:%d", loc, e.Line)
	}
	if e.Key == "" {
		return fmt.Sprintf("%s: %s", loc, e.Msg)
	}
	return fmt.Sprintf("%s: %s: %s", loc, e.Key, e.Msg)
}

// Errors is a list of configuration errors, reported together.
type Errors []*Error

func (es Errors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "\n")
}

// Load reads path (if non-empty) over the defaults and validates the result.
// A file that cannot be read is a configuration error like any other: the
// daemon must not start (and systemd must not restart it) on a typo in
// --config.
func Load(path string) (*Config, error) {
	c := Default()
	if path == "" {
		return c, c.Validate()
	}
	b, err := os.ReadFile(path)
	if err != nil {
		msg := err.Error()
		var pe *fs.PathError
		if errors.As(err, &pe) {
			msg = pe.Err.Error()
		}
		return nil, Errors{{File: path, Msg: "cannot read the file: " + msg}}
	}
	return Parse(path, b)
}

// Parse decodes TOML bytes over the defaults and validates the result. It
// reports every wrong key at once, sorted by line; only a syntax error,
// after which nothing can be read reliably, stops at the first.
func Parse(name string, b []byte) (*Config, error) {
	c := Default()
	c.Path = name
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	var doc map[string]any
	if err := toml.Unmarshal(b, &doc); err != nil {
		return nil, syntaxError(name, err)
	}
	c.lines = keyLines(b)
	d := &decoder{file: name, lines: c.lines}
	d.table("", doc, reflect.ValueOf(c).Elem())
	es := d.errs
	if verr := c.Validate(); verr != nil {
		// A key that failed to decode kept its default, so validation
		// does not report it twice.
		es = append(es, verr.(Errors)...)
	}
	if len(es) > 0 {
		sort.SliceStable(es, func(i, j int) bool {
			if es[i].Line != es[j].Line {
				return es[i].Line < es[j].Line
			}
			return es[i].Key < es[j].Key
		})
		return nil, es
	}
	return c, nil
}

func syntaxError(file string, err error) error {
	var de *toml.DecodeError
	if errors.As(err, &de) {
		row, _ := de.Position()
		msg := strings.TrimPrefix(de.Error(), "toml: ")
		return Errors{{File: file, Line: row, Key: strings.Join(de.Key(), "."), Msg: msg}}
	}
	return Errors{{File: file, Msg: err.Error()}}
}

func (c *Config) errorf(key, format string, args ...any) *Error {
	return &Error{File: c.Path, Line: lineOf(c.lines, key), Key: key, Msg: fmt.Sprintf(format, args...)}
}

// Validate checks values that TOML typing cannot.
func (c *Config) Validate() error {
	var es Errors
	add := func(e *Error) { es = append(es, e) }
	req := func(key, v string) {
		if strings.TrimSpace(v) == "" {
			add(c.errorf(key, "must not be empty"))
		}
	}
	req("store_id", c.StoreID)
	req("warehouse", c.Warehouse)
	if strings.ContainsAny(c.StoreID, "/#+ ") {
		add(c.errorf("store_id", "must not contain '/', '#', '+' or spaces (it is part of MQTT topics and URLs)"))
	}
	addr := func(key, v string, optional bool) {
		if v == "" && optional {
			return
		}
		if err := checkAddr(v); err != nil {
			add(c.errorf(key, "%v", err))
		}
	}
	oneOf := func(key, v string, allowed ...string) {
		for _, a := range allowed {
			if v == a {
				return
			}
		}
		add(c.errorf(key, "%q is not one of %s", v, strings.Join(allowed, ", ")))
	}
	oneOf("log.level", c.Log.Level, "debug", "info", "warn", "error")
	oneOf("log.format", c.Log.Format, "auto", "text", "json")
	addr("devices.listen", c.Devices.Listen, false)
	oneOf("devices.admission", c.Devices.Admission, "open", "pairing")
	if c.Devices.MaxConnections < 1 {
		add(c.errorf("devices.max_connections", "must be at least 1"))
	}
	if c.Devices.OutboundQueue < 1 {
		add(c.errorf("devices.outbound_queue", "must be at least 1"))
	}
	if c.Devices.MaxConnsPerAddress < 1 {
		add(c.errorf("devices.max_conns_per_address", "must be at least 1"))
	}
	if c.Devices.NewDevicesPerMinute < 1 || c.Devices.NewDevicesPerMinute > 60000 {
		add(c.errorf("devices.new_devices_per_minute", "must be between 1 and 60000"))
	}
	for _, t := range []struct {
		key string
		d   time.Duration
	}{{"http.read_timeout", c.HTTP.ReadTimeout.Duration}, {"http.idle_timeout", c.HTTP.IdleTimeout.Duration}} {
		if t.d < 100*time.Millisecond || t.d > time.Hour {
			add(c.errorf(t.key, "must be between 100ms and 1h"))
		}
	}
	if c.HTTP.MaxConnsPerAddress < 1 {
		add(c.errorf("http.max_conns_per_address", "must be at least 1"))
	}
	addr("discovery.listen", c.Discovery.Listen, true)
	addr("mqtt.listen", c.MQTT.Listen, true)
	addr("mqtt.tls_listen", c.MQTT.TLSListen, true)
	if c.MQTT.TLSListen != "" && (c.MQTT.TLSCert == "" || c.MQTT.TLSKey == "") {
		add(c.errorf("mqtt.tls_listen", "needs mqtt.tls_cert and mqtt.tls_key"))
	}
	// A file named here that is not there stops the daemon at start; say so
	// now, with the line, like any other mistake in the file.
	for key, path := range map[string]string{"mqtt.tls_cert": c.MQTT.TLSCert, "mqtt.tls_key": c.MQTT.TLSKey, "mqtt.tls_client_ca": c.MQTT.TLSClientCA} {
		if path == "" || c.MQTT.TLSListen == "" {
			continue
		}
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			add(c.errorf(key, "%s does not exist", path))
		}
	}
	addr("http.listen", c.HTTP.Listen, true)
	oneOf("upstream.kind", c.Upstream.Kind, "http", "nats")
	if c.Upstream.URL != "" && c.Upstream.Kind == "http" {
		if !strings.HasPrefix(c.Upstream.URL, "http://") && !strings.HasPrefix(c.Upstream.URL, "https://") {
			add(c.errorf("upstream.url", "must start with http:// or https://"))
		}
		if c.Upstream.Secret == "" {
			add(c.errorf("upstream.secret", "is required when upstream.url is set"))
		}
	}
	if c.Upstream.Kind == "nats" && c.Upstream.NATSURL == "" {
		add(c.errorf("upstream.nats_url", "is required when upstream.kind = \"nats\""))
	}
	if c.Upstream.BatchEvents < 1 || c.Upstream.BatchEvents > 10000 {
		add(c.errorf("upstream.batch_events", "must be between 1 and 10000"))
	}
	if c.Orders.Retention.Duration < time.Minute {
		add(c.errorf("orders.retention", "must be at least 1m (e.g. \"90d\")"))
	}
	c.checkDurations(add)
	c.checkListeners(add)
	c.checkTLS(add)
	c.checkQPay(add)
	if c.HTTP.AdminToken != "" && strings.TrimSpace(c.HTTP.AdminToken) == "" {
		add(c.errorf("http.admin_token", "is only whitespace, which no client can send; leave it out to have a token made in the data directory"))
	}
	approved := map[string]bool{}
	for i, id := range c.Devices.Approve {
		if err := checkEquipID(id); err != nil {
			add(c.errorf(fmt.Sprintf("devices.approve[%d]", i), "equipId %v (1-%d bytes, no control characters)", err, devmsg.MaxEquipID))
		}
		approved[id] = true
	}
	for i, id := range c.Devices.Reject {
		if err := checkEquipID(id); err != nil {
			add(c.errorf(fmt.Sprintf("devices.reject[%d]", i), "equipId %v (1-%d bytes, no control characters)", err, devmsg.MaxEquipID))
		}
		if approved[id] {
			add(c.errorf(fmt.Sprintf("devices.reject[%d]", i), "%q is also in devices.approve", id))
		}
	}
	oneOf("payments.provider", c.Payments.Provider, "", "qpay", "test")
	if c.Payments.Provider == "qpay" {
		q := c.Payments.QPay
		for k, v := range map[string]string{"base_url": q.BaseURL, "shop_no": q.ShopNo, "a1": q.A1, "a2": q.A2, "b1": q.B1, "b2": q.B2} {
			if v == "" {
				add(c.errorf("payments.qpay."+k, "is required when payments.provider = \"qpay\""))
			}
		}
	}
	seen := map[string]bool{}
	for i, d := range c.Doors {
		key := fmt.Sprintf("doors[%d]", i)
		if d.ID == "" || strings.ContainsAny(d.ID, "/#+ ") {
			add(c.errorf(key+".id", "must be non-empty without '/', '#', '+' or spaces"))
		}
		if d.ID == reservedDoorID {
			add(c.errorf(key+".id", "%q is reserved for the broker itself", d.ID))
		}
		if seen["door:"+d.ID] {
			add(c.errorf(key+".id", "duplicate door id %q", d.ID))
		}
		seen["door:"+d.ID] = true
		if d.Secret == "" {
			add(c.errorf(key+".secret", "must not be empty"))
		}
		if err := doormsg.CheckSecret(d.Secret); err != nil {
			add(c.errorf(key+".secret", "%v", err))
		}
		oneOf(key+".policy", d.Policy, "entry", "exit", "staff")
		if d.OpenMS < 0 {
			add(c.errorf(key+".open_ms", "must be ≥ 0 milliseconds (0: 3000)"))
		}
	}
	for i, s := range c.Scales {
		key := fmt.Sprintf("scales[%d]", i)
		if s.ID == "" {
			add(c.errorf(key+".id", "must not be empty"))
		}
		if seen["scale:"+s.ID] {
			add(c.errorf(key+".id", "duplicate scale id %q", s.ID))
		}
		seen["scale:"+s.ID] = true
		if s.Port == "" {
			add(c.errorf(key+".port", "must not be empty (e.g. /dev/serial/by-id/...)"))
		}
		if s.Protocol != "" && s.Protocol != "auto" {
			if _, err := scaleproto.ParseProtocol(s.Protocol); err != nil {
				add(c.errorf(key+".protocol", "%v", err))
			}
		}
		if s.Parity != "" {
			oneOf(key+".parity", s.Parity, "none", "even", "odd")
		}
		if s.DataBits != 0 && (s.DataBits < 5 || s.DataBits > 8) {
			add(c.errorf(key+".data_bits", "must be 5 to 8 (0: the protocol's default)"))
		}
		if s.Baud < 0 {
			add(c.errorf(key+".baud", "must not be negative (0: the protocol's default)"))
		}
		if s.StopBits != 0 && s.StopBits != 1 && s.StopBits != 2 {
			add(c.errorf(key+".stop_bits", "must be 1 or 2"))
		}
		if s.PollMS < 0 {
			add(c.errorf(key+".poll_ms", "must not be negative"))
		}
	}
	es = append(es, c.validatePrinting()...)
	if len(es) == 0 {
		return nil
	}
	sort.SliceStable(es, func(i, j int) bool { return es[i].Line < es[j].Line })
	return es
}

func (c *Config) validatePrinting() Errors {
	var es Errors
	width := func(key string, w int, zeroOK bool) {
		if (w != 0 || !zeroOK) && (w < 16 || w > 80) {
			es = append(es, c.errorf(key, "must be between 16 and 80 columns (32 for 58 mm paper, 42 or 48 for 80 mm)"))
		}
	}
	width("receipt.width", c.Receipt.Width, false)
	if c.Receipt.Decimals < 0 || c.Receipt.Decimals > 6 {
		es = append(es, c.errorf("receipt.decimals", "must be between 0 and 6"))
	}
	if c.Receipt.Timezone != "" {
		if _, err := time.LoadLocation(c.Receipt.Timezone); err != nil {
			es = append(es, c.errorf("receipt.timezone", "%q is not a time zone (e.g. \"Asia/Shanghai\")", c.Receipt.Timezone))
		}
	}
	seen := map[string]bool{}
	for i, p := range c.Printers {
		key := fmt.Sprintf("printers[%d]", i)
		if p.ID == "" || strings.ContainsAny(p.ID, "/ ") {
			es = append(es, c.errorf(key+".id", "must be non-empty without '/' or spaces"))
		}
		if seen[p.ID] {
			es = append(es, c.errorf(key+".id", "duplicate printer id %q", p.ID))
		}
		seen[p.ID] = true
		if err := CheckPrinterConnect(p.Connect); err != nil {
			es = append(es, c.errorf(key+".connect", "%v", err))
		}
		if p.Codepage != "" && !slices.Contains(PrinterCodepages, p.Codepage) {
			es = append(es, c.errorf(key+".codepage", "%q is not one of %s", p.Codepage, strings.Join(PrinterCodepages, ", ")))
		}
		width(key+".width", p.Width, true)
		if p.Drawer != "" && p.Drawer != "cash" {
			es = append(es, c.errorf(key+".drawer", "%q: use \"cash\" (open for cash payments) or leave it out", p.Drawer))
		}
		for j, t := range p.Terminals {
			if strings.TrimSpace(t) == "" {
				es = append(es, c.errorf(fmt.Sprintf("%s.terminals[%d]", key, j), "must not be empty (\"*\" for every terminal)"))
			}
		}
	}
	return es
}

// CheckPrinterConnect checks a printer's connect string: tcp://HOST:PORT,
// serial:PATH@BAUD, an absolute device path, or spooler:NAME (Windows only).
func CheckPrinterConnect(v string) error {
	switch {
	case v == "":
		return fmt.Errorf("must not be empty (tcp://192.168.1.50:9100, /dev/usb/lp0 or serial:/dev/ttyUSB0@9600)")
	case strings.HasPrefix(v, "tcp://"):
		host, port, err := net.SplitHostPort(strings.TrimPrefix(v, "tcp://"))
		if err != nil || host == "" {
			return fmt.Errorf("%q is not tcp://HOST:PORT (e.g. tcp://192.168.1.50:9100)", v)
		}
		if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
			return fmt.Errorf("%q: port must be 1-65535", v)
		}
	case strings.HasPrefix(v, "serial:"):
		path, baud, ok := strings.Cut(strings.TrimPrefix(v, "serial:"), "@")
		if b, err := strconv.Atoi(baud); !ok || path == "" || err != nil || b < 300 || b > 921600 {
			return fmt.Errorf("%q is not serial:PATH@BAUD (e.g. serial:/dev/ttyUSB0@9600)", v)
		}
	case strings.HasPrefix(v, "spooler:"):
		if strings.TrimPrefix(v, "spooler:") == "" {
			return fmt.Errorf("%q: name the Windows printer (spooler:NAME)", v)
		}
		if runtime.GOOS != "windows" {
			return fmt.Errorf("%q: spooler: printers exist only on Windows; here use tcp://HOST:PORT, a device path such as /dev/usb/lp0, or serial:PATH@BAUD", v)
		}
	case strings.HasPrefix(v, "/") || strings.HasPrefix(v, `\\`) || filepath.IsAbs(v): // C:\... on Windows
	default:
		if runtime.GOOS == "windows" {
			return fmt.Errorf("%q: use spooler:NAME (a printer installed in Windows), tcp://HOST:PORT, or serial:COM3@9600", v)
		}
		return fmt.Errorf("%q: use tcp://HOST:PORT, a device path such as /dev/usb/lp0, or serial:PATH@BAUD", v)
	}
	return nil
}

func checkAddr(v string) error {
	host, port, err := net.SplitHostPort(v)
	if err != nil {
		return fmt.Errorf("%q is not host:port (e.g. \":8686\" or \"0.0.0.0:8686\")", v)
	}
	if host != "" && host != "localhost" && net.ParseIP(host) == nil {
		return fmt.Errorf("%q: host must be an IP address, localhost or empty", v)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p > 65535 {
		return fmt.Errorf("%q: port must be 0-65535", v)
	}
	return nil
}
