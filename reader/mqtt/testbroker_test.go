package mqtt_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// testBroker is a real mosquitto process on loopback, configured in a
// t.TempDir(). Tests that cannot find mosquitto skip.
type testBroker struct {
	t        testing.TB
	dir      string
	conf     string
	URL      string // tcp://127.0.0.1:port
	TLSURL   string // ssl://127.0.0.1:port when started with TLS
	WSURL    string // ws://127.0.0.1:port/mqtt when started with websockets
	CA       string // CA certificate file (TLS)
	CertFile string // client certificate signed by CA (TLS)
	KeyFile  string
	cmd      *exec.Cmd
	exited   chan struct{}
}

type brokerOpts struct {
	users       map[string]string // set: password_file and no anonymous access
	tls         bool              // add a TLS listener with certificates made here
	requireCert bool              // TLS listener wants a client certificate
	websockets  bool              // add a websockets listener
}

func needMosquitto(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("mosquitto")
	if err != nil {
		for _, c := range []string{"/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"} {
			if _, err := os.Stat(c); err == nil {
				return c
			}
		}
		t.Skip("mosquitto not installed (apt-get install -y mosquitto); skipping broker test")
	}
	return p
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func startBroker(t testing.TB, o brokerOpts) *testBroker {
	t.Helper()
	bin := needMosquitto(t)
	b := &testBroker{t: t, dir: t.TempDir()}
	port := freePort(t)
	b.URL = fmt.Sprintf("tcp://127.0.0.1:%d", port)
	var conf strings.Builder
	fmt.Fprintf(&conf, "per_listener_settings false\npersistence true\npersistence_location %s/\n", b.dir)
	// Queue for offline persistent sessions without limit: tests count reads.
	conf.WriteString("max_queued_messages 0\nlog_dest stderr\nlog_type error\nlog_type warning\n")
	if os.Getenv("MOSQ_DEBUG") != "" {
		conf.WriteString("log_type all\n")
		b.t.Cleanup(func() {
			out, _ := os.ReadFile(filepath.Join(b.dir, "mosquitto.log"))
			b.t.Logf("mosquitto log:\n%s", out)
		})
	}
	if os.Geteuid() == 0 {
		conf.WriteString("user root\n") // else mosquitto drops to a user that cannot read TempDir
	}
	if o.users != nil {
		pw := filepath.Join(b.dir, "passwd")
		if _, err := exec.LookPath("mosquitto_passwd"); err != nil {
			t.Skip("mosquitto_passwd not installed; skipping password test")
		}
		first := true
		for u, p := range o.users {
			args := []string{"-b", pw, u, p}
			if first {
				args = []string{"-b", "-c", pw, u, p}
				first = false
			}
			if out, err := exec.Command("mosquitto_passwd", args...).CombinedOutput(); err != nil {
				t.Fatalf("mosquitto_passwd: %v: %s", err, out)
			}
		}
		fmt.Fprintf(&conf, "allow_anonymous false\npassword_file %s\n", pw)
	} else {
		conf.WriteString("allow_anonymous true\n")
	}
	fmt.Fprintf(&conf, "listener %d 127.0.0.1\n", port)
	if o.tls {
		tlsPort := freePort(t)
		b.TLSURL = fmt.Sprintf("ssl://127.0.0.1:%d", tlsPort)
		srvCert, srvKey := b.makeCerts()
		fmt.Fprintf(&conf, "listener %d 127.0.0.1\ncafile %s\ncertfile %s\nkeyfile %s\n", tlsPort, b.CA, srvCert, srvKey)
		if o.requireCert {
			conf.WriteString("require_certificate true\n")
		}
	}
	if o.websockets {
		wsPort := freePort(t)
		b.WSURL = fmt.Sprintf("ws://127.0.0.1:%d/mqtt", wsPort)
		// libwebsockets takes an interface name, not an address, to bind.
		fmt.Fprintf(&conf, "listener %d lo\nprotocol websockets\n", wsPort)
	}
	b.conf = filepath.Join(b.dir, "mosquitto.conf")
	if err := os.WriteFile(b.conf, []byte(conf.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	b.start(bin)
	t.Cleanup(b.Stop)
	return b
}

func (b *testBroker) start(bin string) {
	b.t.Helper()
	b.cmd = exec.Command(bin, "-c", b.conf)
	log, err := os.OpenFile(filepath.Join(b.dir, "mosquitto.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		b.t.Fatal(err)
	}
	b.cmd.Stdout, b.cmd.Stderr = log, log
	if err := b.cmd.Start(); err != nil {
		b.t.Fatalf("start mosquitto: %v", err)
	}
	b.exited = make(chan struct{})
	go func() { _ = b.cmd.Wait(); log.Close(); close(b.exited) }()
	for _, u := range []string{b.URL, b.TLSURL, b.WSURL} {
		if u != "" {
			b.waitListening(u)
		}
	}
}

func (b *testBroker) waitListening(rawURL string) {
	b.t.Helper()
	addr := rawURL[strings.Index(rawURL, "://")+3:]
	addr = strings.TrimSuffix(addr, "/mqtt")
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-b.exited:
			out, _ := os.ReadFile(filepath.Join(b.dir, "mosquitto.log"))
			if strings.Contains(strings.ToLower(string(out)), "websockets support") {
				b.t.Skipf("this mosquitto has no websockets support: %s", out)
			}
			b.t.Fatalf("mosquitto exited at start: %s", out)
		default:
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("mosquitto did not listen on %s: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop ends mosquitto with SIGTERM, so it saves its persistence file.
func (b *testBroker) Stop() {
	if b.cmd == nil {
		return
	}
	_ = b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-b.exited:
	case <-time.After(10 * time.Second):
		_ = b.cmd.Process.Kill()
		<-b.exited
	}
	b.cmd = nil
}

// Restart starts mosquitto again on the same ports with the saved state.
func (b *testBroker) Restart() {
	b.t.Helper()
	b.start(needMosquitto(b.t))
}

// makeCerts writes a CA, a server certificate for 127.0.0.1/localhost and a
// client certificate into the broker's directory.
func (b *testBroker) makeCerts() (srvCert, srvKey string) {
	b.t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "rfidgw test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		b.t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	b.CA = b.writePEM("ca.pem", "CERTIFICATE", caDER)

	leaf := func(name string, serial int64, usage x509.ExtKeyUsage) (string, string) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
			DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
		if err != nil {
			b.t.Fatal(err)
		}
		keyDER, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			b.t.Fatal(err)
		}
		return b.writePEM(name+".pem", "CERTIFICATE", der), b.writePEM(name+".key", "EC PRIVATE KEY", keyDER)
	}
	srvCert, srvKey = leaf("server", 2, x509.ExtKeyUsageServerAuth)
	b.CertFile, b.KeyFile = leaf("client", 3, x509.ExtKeyUsageClientAuth)
	return srvCert, srvKey
}

func (b *testBroker) writePEM(name, typ string, der []byte) string {
	p := filepath.Join(b.dir, name)
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		b.t.Fatal(err)
	}
	return p
}
