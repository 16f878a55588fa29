package doors

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/packets"

	"github.com/storebox/storebox/daemon/config"
	"github.com/storebox/storebox/protocol/ledger"
)

type testCert struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	der  []byte
}

func makeCert(t *testing.T, cn string, parent *testCert, isCA bool) *testCert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		IsCA:         isCA, BasicConstraintsValid: true,
	}
	signer, signKey := tmpl, key
	if parent != nil {
		signer, signKey = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signKey)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return &testCert{cert: c, key: key, der: der}
}

func (c *testCert) write(t *testing.T, dir, name string) (certFile, keyFile string) {
	t.Helper()
	certFile, keyFile = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	kb, _ := x509.MarshalECPrivateKey(c.key)
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

func (c *testCert) tlsCert() tls.Certificate {
	return tls.Certificate{Certificate: [][]byte{c.der}, PrivateKey: c.key}
}

func TestMutualTLS(t *testing.T) {
	dir := t.TempDir()
	ca := makeCert(t, "store CA", nil, true)
	srv := makeCert(t, "storebox", ca, false)
	client := makeCert(t, "D1", ca, false)
	stranger := makeCert(t, "D1", makeCert(t, "other CA", nil, true), false)
	caFile, _ := ca.write(t, dir, "ca")
	certFile, keyFile := srv.write(t, dir, "server")

	ts := startService(t, []config.Door{{ID: "D1", Secret: "x", Policy: "entry"}}, func(c *Config) {
		c.MQTT = config.MQTT{TLSListen: "127.0.0.1:0", TLSCert: certFile, TLSKey: keyFile, TLSClientCA: caFile}
	})
	if ts.Addr() != "" || ts.TLSAddr() == "" {
		t.Fatalf("listeners: plain %q tls %q", ts.Addr(), ts.TLSAddr())
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.cert)
	dialWith := func(certs []tls.Certificate) func() (net.Conn, error) {
		return func() (net.Conn, error) {
			d := &net.Dialer{Timeout: 5 * time.Second}
			c, err := tls.DialWithDialer(d, "tcp", ts.TLSAddr(), &tls.Config{RootCAs: roots, Certificates: certs})
			if err != nil {
				return nil, err
			}
			if err := c.Handshake(); err != nil {
				return nil, err
			}
			return packets.NewThreadSafeConn(c), nil // paho writes from several goroutines
		}
	}
	for name, certs := range map[string][]tls.Certificate{"no client cert": nil, "cert from another CA": {stranger.tlsCert()}} {
		if d, err := connectDoor(t, "", "D1", doorOpts{password: "x", dial: dialWith(certs)}, nil); err == nil {
			d.close()
			t.Errorf("%s: connected", name)
		}
	}
	if _, err := connectDoor(t, "", "D1", doorOpts{password: "wrong", dial: dialWith([]tls.Certificate{client.tlsCert()})}, nil); err == nil {
		t.Error("client cert without the right password connected")
	}
	d, err := connectDoor(t, "", "D1", doorOpts{password: "x", dial: dialWith([]tls.Certificate{client.tlsCert()})}, ackOK)
	if err != nil {
		t.Fatalf("door with client cert: %v", err)
	}
	d.scan("tls-user")
	if ev := ts.sink.next(t); ev.Type != ledger.DoorOpened {
		t.Fatalf("ledger = %+v", ev)
	}
}

func TestTLSConfigErrors(t *testing.T) {
	dir := t.TempDir()
	ca := makeCert(t, "CA", nil, true)
	certFile, keyFile := ca.write(t, dir, "srv")
	junk := filepath.Join(dir, "junk.pem")
	_ = os.WriteFile(junk, []byte("not pem"), 0o600)
	for name, m := range map[string]config.MQTT{
		"missing cert": {TLSListen: "127.0.0.1:0", TLSCert: filepath.Join(dir, "nope.crt"), TLSKey: keyFile},
		"bad CA":       {TLSListen: "127.0.0.1:0", TLSCert: certFile, TLSKey: keyFile, TLSClientCA: junk},
	} {
		s, err := New(Config{StoreID: testStore, MQTT: m}, newFakeOrders(), newFakeSink(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Bind(); err == nil {
			s.Close()
			t.Errorf("%s: started", name)
		}
	}
}
