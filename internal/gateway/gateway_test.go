package gateway

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rfidgw/rfidgw/internal/config"
	"github.com/rfidgw/rfidgw/internal/testkit"
	"github.com/rfidgw/rfidgw/reader"
)

func testConfig(t *testing.T) *config.Config {
	t.Helper()
	dir := t.TempDir()
	reads := filepath.Join(dir, "reads.jsonl")
	os.WriteFile(reads, nil, 0o644)
	body := `gateway: {id: unit, data_dir: ` + filepath.Join(dir, "data") + `}
readers: [{id: f, type: file, path: ` + reads + `, provides: [r1], speed: 0}]
zones: [{id: rack-1, kind: rack, antennas: [{reader: r1, antennas: [1]}]}]
uplink: {kafka: {brokers: ["127.0.0.1:9"]}}
`
	p := filepath.Join(dir, "gw.yaml")
	os.WriteFile(p, []byte(body), 0o644)
	cfg, err := config.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(config.ScopeAll); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// A stalled edge loop must make Alive fail (so the systemd watchdog stops
// pinging) and recover when the loop moves again.
func TestAliveFollowsTheEdgeLoop(t *testing.T) {
	_ = testkit.FreePort // keep the kit linked for the helpers below
	gw, err := New(testConfig(t), Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	gw.aliveAfter = 300 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- gw.Run(ctx) }()
	defer func() { cancel(); <-done }()

	testkit.WaitFor(t, 10*time.Second, "ready", func() bool { return gw.Ready() == nil })
	if err := gw.Alive(); err != nil {
		t.Fatalf("Alive on a running gateway: %v", err)
	}
	release := make(chan struct{})
	gw.pause <- release
	testkit.WaitFor(t, 5*time.Second, "Alive to report the stall", func() bool { return gw.Alive() != nil })
	if err := gw.Ready(); err == nil {
		t.Error("Ready while the edge loop is stalled")
	}
	if !strings.Contains(gw.Alive().Error(), "stuck") {
		t.Errorf("Alive error %q does not say the loop is stuck", gw.Alive())
	}
	close(release)
	testkit.WaitFor(t, 5*time.Second, "Alive after the stall", func() bool { return gw.Alive() == nil })
}

// librdkafka properties have dots in their names; whatever shape viper gives
// them, the producer must get them flat.
func TestLibrdkafkaPropertiesReachTheProducerFlat(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "gw.yaml")
	os.WriteFile(p, []byte(`gateway: {id: unit, data_dir: `+dir+`}
readers: [{id: r1, type: llrp, address: "127.0.0.1:5084"}]
zones: [{id: rack-1, kind: rack, antennas: [{reader: r1, antennas: [1]}]}]
uplink:
  kafka:
    brokers: ["127.0.0.1:9"]
    librdkafka:
      security.protocol: SASL_SSL
      sasl.mechanism: SCRAM-SHA-512
      linger.ms: 5
      ssl: {ca: {location: /etc/ca.pem}}
`), 0o644)
	cfg, err := config.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	u, err := UplinkConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{"security.protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-512", "linger.ms": "5", "ssl.ca.location": "/etc/ca.pem"} {
		if u.Librdkafka[k] != v {
			t.Errorf("librdkafka %s = %q, want %q (all: %v)", k, u.Librdkafka[k], v, u.Librdkafka)
		}
	}
}

// The profiler is admin HTTP like /metrics: with a token it answers only
// to the token.
func TestPprofNeedsTheToken(t *testing.T) {
	gw, err := New(testConfig(t), Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Queue().Close()
	for _, c := range []struct {
		token, auth string
		want        int
	}{{"tok", "", 401}, {"tok", "Bearer nope", 401}, {"tok", "Bearer tok", 200}, {"", "", 200}} {
		req := httptest.NewRequest("GET", "/debug/pprof/cmdline", nil)
		if c.auth != "" {
			req.Header.Set("Authorization", c.auth)
		}
		rec := httptest.NewRecorder()
		gw.Handler(c.token).ServeHTTP(rec, req)
		if rec.Code != c.want {
			t.Errorf("token %q, Authorization %q: status %d, want %d", c.token, c.auth, rec.Code, c.want)
		}
	}
}

// A Deliver that would overflow the pending batch waits until the owner
// took it (back-pressure), then its reads are taken too: none dropped.
func TestDeliverWaitsWhenThePendingBatchIsFull(t *testing.T) {
	gw, err := New(testConfig(t), Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- gw.Run(ctx) }()
	defer func() { cancel(); <-done }()
	testkit.WaitFor(t, 10*time.Second, "ready", func() bool { return gw.Ready() == nil })

	release := make(chan struct{})
	gw.pause <- release
	now := time.Now()
	reads := make([]reader.Read, maxPendingReads)
	for i := range reads {
		reads[i] = reader.Read{Time: now, Reader: "r1", Antenna: 1, EPC: fmt.Sprintf("3034%020X", i), RSSI: -50}
	}
	pending := func() int {
		gw.pendMu.Lock()
		defer gw.pendMu.Unlock()
		return len(gw.pend.reads)
	}
	first, second := make(chan error, 1), make(chan error, 1)
	go func() { first <- gw.Deliver(ctx, reads) }()
	testkit.WaitFor(t, 10*time.Second, "the first batch pending", func() bool { return pending() == maxPendingReads })
	go func() { second <- gw.Deliver(ctx, reads[:10]) }()
	time.Sleep(100 * time.Millisecond) // give the second Deliver the chance to overfill
	if n := pending(); n != maxPendingReads {
		t.Fatalf("%d reads pending, want the bound %d: the second Deliver did not wait", n, maxPendingReads)
	}
	select {
	case err := <-second:
		t.Fatalf("second Deliver returned %v while the owner was stalled", err)
	default:
	}
	close(release)
	for i, c := range []chan error{first, second} {
		select {
		case err := <-c:
			if err != nil {
				t.Errorf("Deliver %d: %v", i+1, err)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("Deliver %d did not return after the owner moved again", i+1)
		}
	}
}
