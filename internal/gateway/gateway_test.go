package gateway

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rfidgw/rfidgw/internal/config"
	"github.com/rfidgw/rfidgw/internal/testkit"
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
