package uplink

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// testPKI is a CA and a server certificate for 127.0.0.1, written as PEM
// files, plus the server's tls.Config.
type testPKI struct {
	caFile string
	server *tls.Config
	pool   *x509.CertPool
}

func newTestPKI(t testing.TB) testPKI {
	t.Helper()
	dir := t.TempDir()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "rfidgw test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	srvTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, caCert, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	return testPKI{
		caFile: caFile,
		pool:   pool,
		server: &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{srvDER}, PrivateKey: srvKey}}},
	}
}

func writeSecret(t testing.TB, s string) string {
	p := filepath.Join(t.TempDir(), "kafka.password")
	if err := os.WriteFile(p, []byte(s+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// deliverAll runs a forwarder with cfg until n records are acked and checks
// them in the cluster, read with the given kgo options.
func deliverAll(t *testing.T, cfg Config, c *kfake.Cluster, kopts ...kgo.Opt) {
	t.Helper()
	q := newMemQueue()
	want := testRecords(testGateway, 1, 500, 11)
	q.add(want...)
	log, logs := testLogger(t)
	f, err := NewForwarder(cfg, testGateway, q, log)
	if err != nil {
		t.Fatal(err)
	}
	runForwarder(t, f)
	if err := q.waitAcked(len(want), 20*time.Second); err != nil {
		t.Fatalf("%v; log:\n%s", err, logs)
	}
	checkDelivery(t, consumeAll(t, c.ListenAddrs(), testTopic, len(want), 10*time.Second, kopts...), want, 0)
}

func TestForwarderTLS(t *testing.T) {
	t.Parallel()
	pki := newTestPKI(t)
	c := newCluster(t, kfake.TLS(pki.server))
	cfg := Config{Brokers: c.ListenAddrs(), Librdkafka: map[string]string{
		"security.protocol": "ssl", "ssl.ca.location": pki.caFile}}
	deliverAll(t, cfg, c, kgo.DialTLSConfig(&tls.Config{RootCAs: pki.pool}))
}

func TestForwarderSASLSCRAMOverTLS(t *testing.T) {
	t.Parallel()
	pki := newTestPKI(t)
	c := newCluster(t, kfake.TLS(pki.server), kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-512", "gw-floor3", "s3cret"))
	cfg := Config{Brokers: c.ListenAddrs(), SASLPasswordFile: writeSecret(t, "s3cret"), Librdkafka: map[string]string{
		"security.protocol": "sasl_ssl", "ssl.ca.location": pki.caFile,
		"sasl.mechanism": "SCRAM-SHA-512", "sasl.username": "gw-floor3"}}
	opts, err := kgoSecurity(cfg.Librdkafka, cfg.SASLPasswordFile)
	if err != nil {
		t.Fatal(err)
	}
	deliverAll(t, cfg, c, opts...)

	// tail reads with the same settings.
	var out, warn bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err = Tail(ctx, TailOptions{Brokers: c.ListenAddrs(), FromBeginning: true, Count: 500,
		Librdkafka: cfg.Librdkafka, SASLPasswordFile: cfg.SASLPasswordFile}, &out, &warn)
	if err != nil || strings.Count(out.String(), "\n") != 500 || warn.Len() > 0 {
		t.Errorf("tail over SASL_SSL: %v, %d lines, warnings %q", err, strings.Count(out.String(), "\n"), warn.String())
	}
	// and says so when the password is wrong.
	err = Tail(ctx, TailOptions{Brokers: c.ListenAddrs(), Librdkafka: cfg.Librdkafka,
		SASLPasswordFile: writeSecret(t, "wrong")}, &out, &warn)
	if err == nil {
		t.Error("tail with a wrong password: no error")
	}
	t.Logf("tail with a wrong password: %v", err)
}

func TestForwarderSASLSCRAM(t *testing.T) {
	t.Parallel()
	c := newCluster(t, kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-256", "gw-floor3", "s3cret"))
	cfg := Config{Brokers: c.ListenAddrs(), Librdkafka: map[string]string{
		"security.protocol": "sasl_plaintext", "sasl.mechanism": "SCRAM-SHA-256",
		"sasl.username": "gw-floor3", "sasl.password_file": writeSecret(t, "s3cret")}}
	opts, err := kgoSecurity(cfg.Librdkafka, "")
	if err != nil {
		t.Fatal(err)
	}
	deliverAll(t, cfg, c, opts...)
}

// keepsRecords runs a forwarder that cannot deliver and checks that no
// record is acked and the log says why.
func keepsRecords(t *testing.T, cfg Config, why string) (*memQueue, *Forwarder, *logBuffer) {
	t.Helper()
	q := newMemQueue()
	q.add(testRecords(testGateway, 1, 200, 7)...)
	log, logs := testLogger(t)
	cfg.RetryBackoffMax = time.Second
	f, err := NewForwarder(cfg, testGateway, q, log)
	if err != nil {
		t.Fatal(err)
	}
	runForwarder(t, f)
	deadline := time.Now().Add(15 * time.Second)
	for !logs.contains(why) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if !logs.contains(why) {
		t.Errorf("log does not say %q:\n%s", why, logs)
	}
	time.Sleep(time.Second)
	if a, _ := q.stats(); a != 0 {
		t.Errorf("%d records acked without a delivery", a)
	}
	if f.Connected() {
		t.Error("Connected() true")
	}
	return q, f, logs
}

func TestForwarderWrongPassword(t *testing.T) {
	t.Parallel()
	c := newCluster(t, kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-256", "gw-floor3", "s3cret"))
	cfg := Config{Brokers: c.ListenAddrs(), SASLPasswordFile: writeSecret(t, "wrong"), Librdkafka: map[string]string{
		"security.protocol": "sasl_plaintext", "sasl.mechanism": "SCRAM-SHA-256", "sasl.username": "gw-floor3"}}
	keepsRecords(t, cfg, "authentication failed")
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if _, err := Check(ctx, cfg); !errors.Is(err, ErrAuthentication) {
		t.Errorf("Check: %v, want ErrAuthentication", err)
	}
}

func TestForwarderMissingTopic(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	cfg := Config{Brokers: c.ListenAddrs(), Topic: "rfid.absent"}
	q, _, logs := keepsRecords(t, cfg, "topic does not exist")
	if !logs.contains("rfid.absent") {
		t.Errorf("log does not name the topic:\n%s", logs)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if _, err := Check(ctx, cfg); !errors.Is(err, ErrTopicMissing) {
		t.Errorf("Check: %v, want ErrTopicMissing", err)
	}
	// Once the topic exists the kept records go out.
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 2, 1, nil, "rfid.absent"); err != nil {
		t.Fatal(err)
	}
	if err := q.waitAcked(200, 20*time.Second); err != nil {
		t.Fatalf("after creating the topic: %v; log:\n%s", err, logs)
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	msg, err := Check(ctx, Config{Brokers: c.ListenAddrs()})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(msg, "rfid.movements 3 partitions") || !strings.Contains(msg, "rfid.gateway-status") {
		t.Errorf("Check: %q", msg)
	}
	// Nothing listens on a closed port.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	ctx2, cancel2 := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel2()
	if _, err := Check(ctx2, Config{Brokers: []string{addr}}); !errors.Is(err, ErrUnreachable) {
		t.Errorf("Check on a closed port: %v, want ErrUnreachable", err)
	}
}

// A principal that may see the topic but not write to it.
func TestNotAuthorised(t *testing.T) {
	t.Parallel()
	describe := func(rt kmsg.ACLResourceType, name string) kfake.ACL {
		return kfake.ACL{Resource: rt, Name: name, Pattern: kmsg.ACLResourcePatternTypeLiteral,
			Operation: kmsg.ACLOperationDescribe, Allow: true}
	}
	c := newCluster(t, kfake.EnableSASL(), kfake.EnableACLs(),
		kfake.Superuser("SCRAM-SHA-256", "admin", "admin"),
		kfake.User("SCRAM-SHA-256", "viewer", "pw",
			describe(kmsg.ACLResourceTypeTopic, testTopic), describe(kmsg.ACLResourceTypeTopic, testStatusTopic),
			kfake.ACL{Resource: kmsg.ACLResourceTypeCluster, Name: "kafka-cluster", Pattern: kmsg.ACLResourcePatternTypeLiteral,
				Operation: kmsg.ACLOperationIdempotentWrite, Allow: true}))
	cfg := Config{Brokers: c.ListenAddrs(), Librdkafka: map[string]string{
		"security.protocol": "sasl_plaintext", "sasl.mechanism": "SCRAM-SHA-256",
		"sasl.username": "viewer", "sasl.password": "pw"}}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if _, err := Check(ctx, cfg); !errors.Is(err, ErrNotAuthorized) || !strings.Contains(err.Error(), testTopic) {
		t.Errorf("Check: %v, want ErrNotAuthorized naming the topic", err)
	}
	keepsRecords(t, cfg, "not authorised")
}
