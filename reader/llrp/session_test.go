package llrp_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/rfidgw/rfidgw/internal/metrics"
	"github.com/rfidgw/rfidgw/reader"
	"github.com/rfidgw/rfidgw/reader/llrp"
	"github.com/rfidgw/rfidgw/reader/llrp/llrpsim"
)

// waitLimit only guards against hangs; no test asserts speed with it.
const waitLimit = 15 * time.Second

var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))

// recSink records every batch a Source delivers.
type recSink struct {
	mu      sync.Mutex
	reads   []reader.Read
	batches int
}

func (r *recSink) Deliver(ctx context.Context, reads []reader.Read) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reads = append(r.reads, reads...) // copies: the source reuses its slice
	r.batches++
	return ctx.Err()
}

func (r *recSink) snapshot() []reader.Read {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]reader.Read(nil), r.reads...)
}

// waitFor polls until cond holds on the reads so far, or fails the test.
func (r *recSink) waitFor(t *testing.T, what string, cond func([]reader.Read) bool) []reader.Read {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		rs := r.snapshot()
		if cond(rs) {
			return rs
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; reads so far: %v", what, rs)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// metricValue reads a gauge or counter (prometheus/testutil would pull a
// module the project does not have).
func metricValue(t *testing.T, m prometheus.Metric) float64 {
	t.Helper()
	var d dto.Metric
	if err := m.Write(&d); err != nil {
		t.Fatal(err)
	}
	if g := d.GetGauge(); g != nil {
		return g.GetValue()
	}
	return d.GetCounter().GetValue()
}

func statuses(rs []reader.Read) []reader.Status {
	var out []reader.Status
	for _, r := range rs {
		if r.IsStatus() {
			out = append(out, r.Status)
		}
	}
	return out
}

func tags(rs []reader.Read) []reader.Read {
	var out []reader.Read
	for _, r := range rs {
		if !r.IsStatus() {
			out = append(out, r)
		}
	}
	return out
}

// nStatus waits until status s was delivered n times in total.
func (r *recSink) nStatus(t *testing.T, s reader.Status, n int) []reader.Read {
	t.Helper()
	return r.waitFor(t, fmt.Sprintf("%d× %s", n, s), func(rs []reader.Read) bool {
		c := 0
		for _, x := range statuses(rs) {
			if x == s {
				c++
			}
		}
		return c >= n
	})
}

func (r *recSink) nTags(t *testing.T, n int) []reader.Read {
	t.Helper()
	return r.waitFor(t, fmt.Sprintf("%d tag reads", n), func(rs []reader.Read) bool { return len(tags(rs)) >= n })
}

func startSim(t *testing.T, opts llrpsim.Options) (*llrpsim.Simulator, string) {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = quietLog
	}
	sim := llrpsim.New(opts)
	addr, err := sim.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	return sim, addr.String()
}

// testMetrics receives the metrics of the sources newTestSource builds.
var testMetrics = metrics.New()

// newTestSource builds a Source with short backoff and request timeouts so
// that reconnection tests do not sit through the production 1 s minimum.
func newTestSource(t *testing.T, cfg reader.Config) *llrp.Source {
	t.Helper()
	if cfg.Type == "" {
		cfg.Type = reader.TypeLLRP
	}
	s, err := llrp.New(cfg, reader.Env{Log: quietLog, Metrics: testMetrics.Readers()})
	if err != nil {
		t.Fatal(err)
	}
	llrp.SetBackoff(s, 20*time.Millisecond, 200*time.Millisecond)
	llrp.SetRequestTimeout(s, 3*time.Second)
	return s
}

// runSource runs s until the test ends and checks that Run returns nil.
func runSource(t *testing.T, s *llrp.Source, sink reader.Sink) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, sink) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run returned %v after cancel, want nil", err)
			}
		case <-time.After(waitLimit):
			t.Error("Run did not return after cancel")
		}
	})
}

func TestSessionReads(t *testing.T) {
	sim, addr := startSim(t, llrpsim.Options{ImpinjPeakRSSI: true})
	id := "dock-" + t.Name()
	src := newTestSource(t, reader.Config{ID: id, Antennas: []int{1, 2}, Settings: &llrp.Settings{Address: addr}})
	sink := &recSink{}
	readsBefore := metricValue(t, testMetrics.ReadsTotal.WithLabelValues(id)) // -count=N reuses testMetrics
	runSource(t, src, sink)
	sink.nStatus(t, reader.StatusOnline, 1)
	if got := metricValue(t, testMetrics.ReaderConnected.WithLabelValues(id)); got != 1 {
		t.Fatalf("rfidgw_reader_connected = %v while online", got)
	}

	before := time.Now()
	sim.Feed(reader.Read{Antenna: 1, EPC: "e28011606000020d8f3a1b2c", RSSI: -52.5})
	sim.Feed(reader.Read{Antenna: 3, EPC: "E28011606000020D8F3A1B99", RSSI: -40}) // not in the ROSpec
	sim.Feed(reader.Read{Antenna: 2, EPC: "E2000000000000000000000000000001", RSSI: -61})
	rs := tags(sink.nTags(t, 2))
	after := time.Now()
	want := []reader.Read{
		{Reader: id, Antenna: 1, EPC: "E28011606000020D8F3A1B2C", RSSI: -52.5},
		{Reader: id, Antenna: 2, EPC: "E2000000000000000000000000000001", RSSI: -61},
	}
	for i, w := range want {
		g := rs[i]
		if g.Reader != w.Reader || g.Antenna != w.Antenna || g.EPC != w.EPC || g.RSSI != w.RSSI {
			t.Errorf("read %d = %+v, want %+v", i, g, w)
		}
		if g.Time.Before(before.Truncate(time.Microsecond)) || g.Time.After(after) || g.Time.Location() != time.UTC {
			t.Errorf("read %d time %v not UTC within [%v, %v]", i, g.Time, before, after)
		}
	}
	// Reports already in the read buffer go in one batch (the reader sends
	// one per tag); a report alone is delivered without waiting for more.
	if sink.batches < 2 || sink.batches > 3 {
		t.Errorf("%d batches for online + 2 reports, want 2 or 3", sink.batches)
	}
	// A read after the antenna-3 one arrives; the antenna-3 one never does.
	sim.Feed(reader.Read{Antenna: 1, EPC: "E28011606000020D8F3A1B2D", RSSI: -50})
	rs = tags(sink.nTags(t, 3))
	if len(rs) != 3 || rs[2].EPC != "E28011606000020D8F3A1B2D" {
		t.Fatalf("reads %+v: antenna 3 is outside the ROSpec and must not be reported", rs)
	}
	if got := metricValue(t, testMetrics.ReadsTotal.WithLabelValues(id)) - readsBefore; got != 3 {
		t.Errorf("rfidgw_reads_total grew by %v, want 3", got)
	}
}

func TestSessionReaderRestart(t *testing.T) {
	sim, addr := startSim(t, llrpsim.Options{})
	id := "restart-" + t.Name()
	src := newTestSource(t, reader.Config{ID: id, Settings: &llrp.Settings{Address: addr}})
	sink := &recSink{}
	runSource(t, src, sink)
	sink.nStatus(t, reader.StatusOnline, 1)
	sim.Feed(reader.Read{Antenna: 1, EPC: "300000000000000000000001", RSSI: -50})
	sink.nTags(t, 1)

	sim.DropConnections()
	sink.nStatus(t, reader.StatusOffline, 1)
	if got := metricValue(t, testMetrics.ReaderConnected.WithLabelValues(id)); got != 0 {
		t.Errorf("rfidgw_reader_connected = %v after the reader dropped, want 0", got)
	}
	rs := sink.nStatus(t, reader.StatusOnline, 2)
	if st := statuses(rs); len(st) != 3 || st[0] != reader.StatusOnline || st[1] != reader.StatusOffline || st[2] != reader.StatusOnline {
		t.Fatalf("statuses %v, want online offline online", st)
	}
	sim.Feed(reader.Read{Antenna: 4, EPC: "300000000000000000000002", RSSI: -55})
	rs = tags(sink.nTags(t, 2))
	if rs[1].EPC != "300000000000000000000002" || rs[1].Antenna != 4 {
		t.Fatalf("read after reconnect %+v", rs[1])
	}
	if got := metricValue(t, testMetrics.ReaderReconnects.WithLabelValues(id)); got < 1 {
		t.Errorf("rfidgw_reader_reconnects_total = %v, want >= 1", got)
	}
	if sim.Accepted() < 2 {
		t.Errorf("simulator accepted %d connections, want 2", sim.Accepted())
	}
}

func TestSessionKeepaliveLoss(t *testing.T) {
	sim, addr := startSim(t, llrpsim.Options{})
	const ka = 200 * time.Millisecond
	src := newTestSource(t, reader.Config{ID: "ka-" + t.Name(), Settings: &llrp.Settings{Address: addr, Keepalive: ka}})
	sink := &recSink{}
	runSource(t, src, sink)
	sink.nStatus(t, reader.StatusOnline, 1)
	// The client acknowledges keepalives at the interval it configured.
	deadline := time.Now().Add(waitLimit)
	for sim.KeepaliveAcks() < 2 {
		if time.Now().After(deadline) {
			t.Fatal("no KEEPALIVE_ACKs from the client")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Nothing else arrives now, so a working connection is kept by
	// keepalives alone: no offline while they flow.
	time.Sleep(5 * ka)
	if st := statuses(sink.snapshot()); len(st) != 1 {
		t.Fatalf("statuses %v while keepalives flow, want only online", st)
	}

	silentAt := time.Now()
	sim.SetKeepaliveSilent(true)
	sink.nStatus(t, reader.StatusOffline, 1)
	// Dead-reader detection waits 3 intervals after the last message; the
	// last keepalive came at most about one interval before the silence
	// (the margin absorbs ticker and scheduling jitter).
	if el := time.Since(silentAt); el < 3*ka/2 {
		t.Errorf("offline %v after the keepalives stopped; too early for 3 missed %v keepalives", el, ka)
	}
	sim.SetKeepaliveSilent(false)
	sink.nStatus(t, reader.StatusOnline, 2)
	sim.Feed(reader.Read{Antenna: 2, EPC: "300000000000000000000003", RSSI: -50})
	rs := tags(sink.nTags(t, 1))
	if rs[0].EPC != "300000000000000000000003" {
		t.Fatalf("read after recovery: %+v", rs)
	}
}

func TestSessionRefused(t *testing.T) {
	sim, addr := startSim(t, llrpsim.Options{RefuseConnections: true})
	src := newTestSource(t, reader.Config{ID: "refused-" + t.Name(), Settings: &llrp.Settings{Address: addr}})

	_, err := src.Check(context.Background())
	if !errors.Is(err, llrp.ErrConnectionRefused) || !strings.Contains(err.Error(), "another client is already connected") ||
		!strings.Contains(err.Error(), "status 2") {
		t.Fatalf("Check = %v, want a refusal naming status 2 and its meaning", err)
	}

	sink := &recSink{}
	runSource(t, src, sink)
	// The first failure tells the edge engine the reader is offline.
	sink.nStatus(t, reader.StatusOffline, 1)
	// It keeps retrying; once the other client is gone it connects.
	sim.SetRefuse(false)
	sink.nStatus(t, reader.StatusOnline, 1)

	// A second client while the first is connected is refused by the
	// reader, as real readers allow one LLRP client.
	other := newTestSource(t, reader.Config{ID: "other", Settings: &llrp.Settings{Address: addr}})
	if _, err := other.Check(context.Background()); !errors.Is(err, llrp.ErrConnectionRefused) {
		t.Fatalf("second client: %v, want ErrConnectionRefused", err)
	}
}

func TestCheck(t *testing.T) {
	_, addr := startSim(t, llrpsim.Options{})
	src := newTestSource(t, reader.Config{ID: "chk", Settings: &llrp.Settings{Address: addr}})
	desc, err := src.Check(context.Background())
	if err != nil || !strings.HasPrefix(desc, "Impinj model 2001002 firmware 5.14.0.240 antennas 4; clock ") || !strings.HasSuffix(desc, "s from the gateway") {
		t.Fatalf("Check = %q, %v", desc, err)
	}

	_, zaddr := startSim(t, llrpsim.Options{Manufacturer: llrp.VendorMotorola, Model: 9600, Firmware: "3.10.30", Antennas: 8})
	src = newTestSource(t, reader.Config{ID: "chk-zebra", Antennas: []int{8}, Settings: &llrp.Settings{Address: zaddr}})
	if desc, err := src.Check(context.Background()); err != nil || !strings.HasPrefix(desc, "Zebra model 9600 firmware 3.10.30 antennas 8; clock ") {
		t.Fatalf("Check = %q, %v", desc, err)
	}

	src = newTestSource(t, reader.Config{ID: "chk-ant", Antennas: []int{1, 5}, Settings: &llrp.Settings{Address: addr}})
	desc, err = src.Check(context.Background())
	if !errors.Is(err, llrp.ErrConfig) || !strings.Contains(err.Error(), "antennas[1] = 5") || !strings.Contains(desc, "antennas 4") {
		t.Fatalf("Check with antenna 5 of 4 = %q, %v", desc, err)
	}

	// Nothing listening: a clear connection error naming the address.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	src = newTestSource(t, reader.Config{ID: "chk-dead", Settings: &llrp.Settings{Address: dead}})
	if _, err := src.Check(context.Background()); err == nil || !strings.Contains(err.Error(), dead) {
		t.Fatalf("Check on a closed port = %v", err)
	}
	// Run against it reports offline once and keeps retrying until
	// cancelled (runSource checks that it then returns nil).
	llrp.SetBackoff(src, 5*time.Second, 0)
	sink := &recSink{}
	runSource(t, src, sink)
	if st := statuses(sink.nStatus(t, reader.StatusOffline, 1)); len(st) != 1 {
		t.Fatalf("statuses %v, want one offline", st)
	}
}

// TestSessionSilentReaderRequest: a reader that accepts the TCP connection
// but never sends its ConnectionAttemptEvent fails Check with a timeout,
// not a hang.
func TestSessionSilentReaderRequest(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			defer c.Close()
			io.Copy(io.Discard, c)
		}
	}()
	src := newTestSource(t, reader.Config{ID: "mute", Settings: &llrp.Settings{Address: ln.Addr().String()}})
	llrp.SetRequestTimeout(src, 300*time.Millisecond)
	if _, err := src.Check(context.Background()); !errors.Is(err, llrp.ErrResponseTimeout) {
		t.Fatalf("Check on a mute reader = %v, want ErrResponseTimeout", err)
	}
}

func TestSessionClock(t *testing.T) {
	cases := []struct {
		name string
		opts llrpsim.Options
		// minLead is how far ahead of the feed time the read may be: a
		// reader 500 ms ahead is within tolerance and keeps its clock.
		minLead time.Duration
	}{
		{"utc-behind-1h", llrpsim.Options{ClockOffset: -time.Hour}, 0},
		{"utc-ahead-1h", llrpsim.Options{ClockOffset: time.Hour}, 0},
		{"uptime-only", llrpsim.Options{UptimeOnly: true}, 0},
		{"utc-ahead-500ms", llrpsim.Options{ClockOffset: 500 * time.Millisecond}, 500 * time.Millisecond},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sim, addr := startSim(t, c.opts)
			src := newTestSource(t, reader.Config{ID: "clock-" + c.name, Settings: &llrp.Settings{Address: addr}})
			sink := &recSink{}
			runSource(t, src, sink)
			sink.nStatus(t, reader.StatusOnline, 1)
			for i := 0; i < 3; i++ {
				before := time.Now().Truncate(time.Microsecond)
				sim.Feed(reader.Read{Antenna: 1, EPC: "300000000000000000000001", RSSI: -50})
				rs := tags(sink.nTags(t, i+1))
				after := time.Now()
				g := rs[i].Time
				if g.Before(before.Add(c.minLead)) || g.After(after.Add(c.minLead)) {
					t.Fatalf("read %d time %v, want within [%v, %v] (+%v)", i, g, before, after, c.minLead)
				}
			}
		})
	}
}

// TestSessionUptimeRestart: after a reboot the reader's uptime restarts
// from zero; the new connection re-anchors it, so read times stay right.
func TestSessionUptimeRestart(t *testing.T) {
	sim, addr := startSim(t, llrpsim.Options{UptimeOnly: true})
	src := newTestSource(t, reader.Config{ID: "uprestart-" + t.Name(), Settings: &llrp.Settings{Address: addr}})
	sink := &recSink{}
	runSource(t, src, sink)
	for round := 1; round <= 2; round++ {
		sink.nStatus(t, reader.StatusOnline, round)
		before := time.Now().Truncate(time.Microsecond)
		sim.Feed(reader.Read{Antenna: 1, EPC: "300000000000000000000001", RSSI: -50})
		rs := tags(sink.nTags(t, round))
		after := time.Now()
		if g := rs[round-1].Time; g.Before(before) || g.After(after) {
			t.Fatalf("round %d: read time %v, want within [%v, %v]", round, g, before, after)
		}
		// Let the first boot age so that a stale anchor would be visibly off.
		time.Sleep(300 * time.Millisecond)
		sim.DropConnections()
	}
}

func TestNewConfigErrors(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		cfg  reader.Config
		want string
	}{
		{reader.Config{ID: "r", Settings: &llrp.Settings{Address: ""}}, "address is required"},
		{reader.Config{ID: "r", Settings: &llrp.Settings{Address: "10.0.0.1:99999"}}, `address "10.0.0.1:99999"`},
		{reader.Config{ID: "r", Antennas: []int{1, 0}, Settings: &llrp.Settings{Address: "10.0.0.1:5084"}}, "antennas[1] = 0"},
		{reader.Config{ID: "r", Settings: &llrp.Settings{Address: "10.0.0.1:5084", Keepalive: time.Millisecond}}, "keepalive 1ms"},
		{reader.Config{ID: "r", Type: "serial", Settings: &llrp.Settings{Address: "10.0.0.1:5084"}}, `type "serial"`},
		{reader.Config{ID: "r", Settings: &llrp.Settings{Address: "10.0.0.1", TLS: &reader.TLS{Cert: "c.pem"}}}, "tls.cert and tls.key"},
		{reader.Config{ID: "r", Settings: &llrp.Settings{Address: "10.0.0.1", TLS: &reader.TLS{CA: filepath.Join(dir, "missing.pem")}}}, "tls.ca"},
		{reader.Config{ID: "r", Settings: &llrp.Settings{Address: "10.0.0.1", TLS: &reader.TLS{CA: notPEM}}}, "no PEM certificate"},
	}
	for _, c := range cases {
		_, err := llrp.New(c.cfg, reader.Env{})
		if !errors.Is(err, llrp.ErrConfig) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), `reader "r"`) {
			t.Errorf("New(%+v) = %v, want ErrConfig naming the reader and %q", c.cfg, err, c.want)
		}
	}
	s, err := llrp.New(reader.Config{ID: "r", Settings: &llrp.Settings{Address: "10.0.0.1", TLS: &reader.TLS{}}}, reader.Env{})
	if err != nil || s.Addr() != "10.0.0.1:5085" || llrp.KeepaliveOf(s) != llrp.DefaultKeepalive {
		t.Fatalf("defaults: %v %q %v", err, s.Addr(), llrp.KeepaliveOf(s))
	}
}

// testPKI writes a CA, a server certificate for 127.0.0.1 and a client
// certificate to dir and returns the server's TLS config.
func testPKI(t *testing.T, dir string) *tls.Config {
	t.Helper()
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	writePEM := func(name, typ string, der []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	caKey := newKey()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test LLRP CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	writePEM("ca.pem", "CERTIFICATE", caDER)
	issue := func(name string, serial int64, usage x509.ExtKeyUsage, ips []net.IP) tls.Certificate {
		k := newKey()
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}, IPAddresses: ips}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kd, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		writePEM(name+".pem", "CERTIFICATE", der)
		writePEM(name+"-key.pem", "EC PRIVATE KEY", kd)
		return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: k}
	}
	server := issue("server", 2, x509.ExtKeyUsageServerAuth, []net.IP{net.ParseIP("127.0.0.1")})
	issue("client", 3, x509.ExtKeyUsageClientAuth, nil)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return &tls.Config{Certificates: []tls.Certificate{server}, ClientAuth: tls.RequireAndVerifyClientCert,
		ClientCAs: pool, MinVersion: tls.VersionTLS12}
}

func TestSessionTLS(t *testing.T) {
	dir := t.TempDir()
	sim, addr := startSim(t, llrpsim.Options{TLS: testPKI(t, dir)})
	p := func(n string) string { return filepath.Join(dir, n) }
	cfg := reader.Config{
		ID: "tls-" + t.Name(),
		Settings: &llrp.Settings{Address: addr,
			TLS: &reader.TLS{CA: p("ca.pem"), Cert: p("client.pem"), Key: p("client-key.pem")},
		},
	}

	src := newTestSource(t, cfg)
	if desc, err := src.Check(context.Background()); err != nil || !strings.HasPrefix(desc, "Impinj model") {
		t.Fatalf("Check over TLS = %q, %v", desc, err)
	}
	sink := &recSink{}
	runSource(t, src, sink)
	sink.nStatus(t, reader.StatusOnline, 1)
	sim.Feed(reader.Read{Antenna: 3, EPC: "300000000000000000000007", RSSI: -48})
	if rs := tags(sink.nTags(t, 1)); rs[0].EPC != "300000000000000000000007" || rs[0].Antenna != 3 {
		t.Fatalf("read over TLS %+v", rs[0])
	}

	// Without the CA the reader's certificate is not trusted.
	noCA := newTestSource(t, reader.Config{
		ID: "tls-noca",
		Settings: &llrp.Settings{Address: addr,
			TLS: &reader.TLS{Cert: p("client.pem"), Key: p("client-key.pem")},
		},
	})
	if _, err := noCA.Check(context.Background()); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("Check without the CA = %v, want a certificate error", err)
	}
}

// TestSessionWrongResponseID: a response with another message id is not
// taken as the answer (the LLRP standard: a response carries its request's message id); the request times out clearly.
func TestSessionWrongResponseID(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.Write(llrp.AppendMessage(nil, llrp.Version101, 1, &llrp.ReaderEventNotification{HasConnectionAttempt: true}))
		fr := llrp.NewFramer(c)
		for {
			h, _, err := fr.ReadMessage()
			if err != nil {
				return
			}
			if h.Type == llrp.MsgGetReaderCapabilities {
				c.Write(llrp.AppendMessage(nil, llrp.Version101, h.ID+100, &llrp.GetReaderCapabilitiesResponse{HasGeneral: true}))
			}
		}
	}()
	src := newTestSource(t, reader.Config{ID: "wrongid", Settings: &llrp.Settings{Address: ln.Addr().String()}})
	llrp.SetRequestTimeout(src, 300*time.Millisecond)
	// The answer with the wrong id is not taken: the reader counts as one
	// that did not answer (used with conservative defaults, see
	// TestSessionNoCapabilities), not as "vendor 0 model 0".
	desc, err := src.Check(context.Background())
	if err != nil || !strings.Contains(desc, "did not answer GET_READER_CAPABILITIES") {
		t.Fatalf("Check = %q, %v; want the no-capabilities description", desc, err)
	}
}

// report_tags reaches the reader: it holds reads until it has N, then
// sends them in one RO_ACCESS_REPORT.
func TestSessionReportTags(t *testing.T) {
	sim, addr := startSim(t, llrpsim.Options{})
	src := newTestSource(t, reader.Config{ID: "batch-" + t.Name(), Settings: &llrp.Settings{Address: addr, ReportTags: 3}})
	sink := &recSink{}
	runSource(t, src, sink)
	sink.nStatus(t, reader.StatusOnline, 1)
	sim.Feed(reader.Read{Antenna: 1, EPC: "300000000000000000000001", RSSI: -50})
	sim.Feed(reader.Read{Antenna: 1, EPC: "300000000000000000000002", RSSI: -50})
	deadline := time.Now().Add(waitLimit)
	for sim.PendingTags() < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := sim.PendingTags(); n != 2 {
		t.Fatalf("reader holds %d tags, want 2 (report_tags 3)", n)
	}
	if rs := tags(sink.snapshot()); len(rs) != 0 {
		t.Fatalf("reads %v before the third tag", rs)
	}
	sim.Feed(reader.Read{Antenna: 1, EPC: "300000000000000000000003", RSSI: -50})
	if rs := tags(sink.nTags(t, 3)); rs[2].EPC != "300000000000000000000003" {
		t.Fatalf("reads %v", rs)
	}
}
