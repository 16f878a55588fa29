package config

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/storebox/storebox/protocol/devmsg"
	"github.com/storebox/storebox/protocol/qpay"
)

// reservedDoorID is the id the embedded broker's own client uses.
const reservedDoorID = "inline"

// durationRange is the accepted range of one duration key. The upper
// bounds keep arithmetic on them (heartbeat × 3, backoff doubling) far from
// overflow and catch a unit typo ("1000000h").
type durationRange struct {
	key      string
	d        time.Duration
	min, max time.Duration
}

func (c *Config) durationRanges() []durationRange {
	return []durationRange{
		{"devices.heartbeat", c.Devices.Heartbeat.Duration, time.Second, time.Hour},
		{"upstream.catalog_interval", c.Upstream.CatalogInterval.Duration, time.Second, 24 * time.Hour},
		{"upstream.timeout", c.Upstream.Timeout.Duration, 100 * time.Millisecond, 10 * time.Minute},
		{"orders.payment_ttl", c.Orders.PaymentTTL.Duration, time.Second, 24 * time.Hour},
		{"orders.retention", c.Orders.Retention.Duration, 0, 10 * 365 * 24 * time.Hour},
		{"payments.qpay.poll_interval", c.Payments.QPay.PollInterval.Duration, 0, time.Hour},
		{"payments.qpay.poll_max", c.Payments.QPay.PollMax.Duration, 0, 24 * time.Hour},
		{"fleet.health_interval", c.Fleet.HealthInterval.Duration, time.Second, 24 * time.Hour},
		{"fleet.config_interval", c.Fleet.ConfigInterval.Duration, time.Second, 24 * time.Hour},
		{"fleet.queue_alarm_age", c.Fleet.QueueAlarmAge.Duration, time.Second, 30 * 24 * time.Hour},
	}
}

// checkDurations reports every duration outside its range.
func (c *Config) checkDurations(add func(*Error)) {
	for _, r := range c.durationRanges() {
		switch {
		case r.d < r.min:
			add(c.errorf(r.key, "must be at least %s", short(r.min)))
		case r.d > r.max:
			add(c.errorf(r.key, "must be at most %s", short(r.max)))
		}
	}
}

// short writes 1h0m0s as 1h and 720h0m0s as 720h.
func short(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// checkTLS loads the broker's certificate, key and client CA the way the
// broker will, so a file that is not PEM is a config error, not a crash
// loop at start.
func (c *Config) checkTLS(add func(*Error)) {
	m := c.MQTT
	if m.TLSListen == "" || m.TLSCert == "" || m.TLSKey == "" {
		return
	}
	if _, err := tls.LoadX509KeyPair(m.TLSCert, m.TLSKey); err != nil {
		if !missing(m.TLSCert) && !missing(m.TLSKey) {
			add(c.errorf("mqtt.tls_cert", "with mqtt.tls_key %s: %v", m.TLSKey, err))
		}
	}
	if m.TLSClientCA != "" && !missing(m.TLSClientCA) {
		b, err := os.ReadFile(m.TLSClientCA)
		if err != nil {
			add(c.errorf("mqtt.tls_client_ca", "%v", err))
		} else if !x509.NewCertPool().AppendCertsFromPEM(b) {
			add(c.errorf("mqtt.tls_client_ca", "%s holds no PEM certificate", m.TLSClientCA))
		}
	}
}

func missing(path string) bool {
	_, err := os.Stat(path)
	return os.IsNotExist(err)
}

// checkListeners reports two TCP listeners of the daemon on the same
// address: the second bind would fail at every start. A port is shared when
// the hosts are equal or either is a wildcard; port 0 never collides.
func (c *Config) checkListeners(add func(*Error)) {
	type l struct{ key, addr string }
	ls := []l{{"devices.listen", c.Devices.Listen}, {"mqtt.listen", c.MQTT.Listen}, {"mqtt.tls_listen", c.MQTT.TLSListen}, {"http.listen", c.HTTP.Listen}}
	for i := range ls {
		for j := range i {
			if sameSocket(ls[i].addr, ls[j].addr) {
				// Name the key the file sets, not a default.
				a, b := ls[i], ls[j]
				if c.lines[a.key] == 0 && c.lines[b.key] > 0 {
					a, b = b, a
				}
				add(c.errorf(a.key, "%q is also %s: two listeners cannot share an address", a.addr, b.key))
			}
		}
	}
}

func sameSocket(a, b string) bool {
	ha, pa, err1 := net.SplitHostPort(a)
	hb, pb, err2 := net.SplitHostPort(b)
	if a == "" || b == "" || err1 != nil || err2 != nil {
		return false
	}
	na, err1 := strconv.Atoi(pa)
	nb, err2 := strconv.Atoi(pb)
	if err1 != nil || err2 != nil || na == 0 || na != nb {
		return false
	}
	norm := func(h string) string {
		if h == "localhost" {
			return "127.0.0.1"
		}
		if ip := net.ParseIP(h); ip != nil {
			if ip.IsUnspecified() {
				return ""
			}
			return ip.String()
		}
		return h
	}
	ha, hb = norm(ha), norm(hb)
	return ha == "" || hb == "" || ha == hb
}

// checkQPay builds the QPay keys the client will, so a key that is not
// what QPay issues is a config error.
func (c *Config) checkQPay(add func(*Error)) {
	q := c.Payments.QPay
	if c.Payments.Provider != "qpay" || q.ShopNo == "" || q.A1 == "" || q.A2 == "" || q.B1 == "" || q.B2 == "" {
		return
	}
	if _, err := qpay.NewKeys(q.ShopNo, q.A1, q.A2, q.B1, q.B2); err != nil {
		add(c.errorf("payments.qpay.a1", "%v", err))
	}
	if q.BaseURL != "" && !strings.HasPrefix(q.BaseURL, "http://") && !strings.HasPrefix(q.BaseURL, "https://") {
		add(c.errorf("payments.qpay.base_url", "must start with http:// or https://"))
	}
}

// checkEquipID reports an approve or reject id a device could never log in
// with (PROTOCOL §2.4).
func checkEquipID(id string) error {
	return devmsg.CheckEquipID(strings.TrimSpace(id))
}
