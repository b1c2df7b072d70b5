package uplink

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestProducerConfigDefaults(t *testing.T) {
	cm, err := producerConfig(Config{Brokers: []string{"k1:9092", "k2:9092"},
		Librdkafka: map[string]string{"linger.ms": "20", "compression.type": "zstd", "acks": "-1"}}.withDefaults(), "rfidgw-x")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"bootstrap.servers": "k1:9092,k2:9092", "enable.idempotence": "true", "acks": "all",
		"message.timeout.ms": "0", "reconnect.backoff.max.ms": "1000", "max.in.flight.requests.per.connection": "5",
		"linger.ms": "20", "compression.type": "zstd", "client.id": "rfidgw-x", "go.delivery.report.fields": "none",
	}
	for k, v := range want {
		if cm[k] != v {
			t.Errorf("%s = %v, want %v", k, cm[k], v)
		}
	}
}

// A finite message.timeout.ms is the forwarder's deadline; librdkafka's
// stays infinite (it would deliver later messages past an expired one).
func TestMessageTimeoutIsTheForwardersOwn(t *testing.T) {
	for _, k := range []string{"message.timeout.ms", "delivery.timeout.ms"} {
		cfg := Config{Brokers: []string{"k:1"}, Librdkafka: map[string]string{k: "3000"}}.withDefaults()
		cm, err := producerConfig(cfg, "x")
		if err != nil {
			t.Fatal(err)
		}
		if cm["message.timeout.ms"] != "0" || cm["delivery.timeout.ms"] != nil || cm["enable.gapless.guarantee"] != "true" {
			t.Errorf("%s: librdkafka gets message.timeout.ms=%v delivery.timeout.ms=%v gapless=%v", k,
				cm["message.timeout.ms"], cm["delivery.timeout.ms"], cm["enable.gapless.guarantee"])
		}
		if d, err := deliveryTimeout(cfg); err != nil || d != 3*time.Second {
			t.Errorf("%s: deliveryTimeout = %v, %v", k, d, err)
		}
	}
}

func TestConfigProblems(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	if err := os.WriteFile(pw, []byte("hunter2\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		cfg  Config
		want []string // substrings of the error
	}{
		{"no brokers", Config{}, []string{"uplink.kafka.brokers: required"}},
		{"acks", Config{Brokers: []string{"k:1"}, Librdkafka: map[string]string{"acks": "1"}},
			[]string{`uplink.kafka.librdkafka.acks: "1" not allowed, must be all`}},
		{"idempotence", Config{Brokers: []string{"k:1"}, Librdkafka: map[string]string{"enable.idempotence": "false"}},
			[]string{"uplink.kafka.librdkafka.enable.idempotence"}},
		{"go keys", Config{Brokers: []string{"k:1"}, Librdkafka: map[string]string{"go.events.channel.size": "5"}},
			[]string{"uplink.kafka.librdkafka.go.events.channel.size"}},
		{"transactions", Config{Brokers: []string{"k:1"}, Librdkafka: map[string]string{"transactional.id": "x"}},
			[]string{"uplink.kafka.librdkafka.transactional.id: not allowed"}},
		{"missing password file", Config{Brokers: []string{"k:1"}, SASLPasswordFile: filepath.Join(dir, "absent")},
			[]string{"uplink.kafka.sasl_password_file", "absent"}},
		{"password twice", Config{Brokers: []string{"k:1"}, SASLPasswordFile: pw, Librdkafka: map[string]string{"sasl.password": "x"}},
			[]string{"uplink.kafka.librdkafka.sasl.password: conflicts"}},
		{"topic", Config{Brokers: []string{"k:1"}, Topic: "rfid movements"},
			[]string{"uplink.kafka.topic", `character ' '`}},
		{"empty broker", Config{Brokers: []string{"k:1", " "}}, []string{"uplink.kafka.brokers[1]: empty"}},
		{"max_in_flight", Config{Brokers: []string{"k:1"}, MaxInFlight: 1_000_000_000},
			[]string{"uplink.kafka.max_in_flight: 1000000000 is outside 1..1000000"}},
		{"heartbeat", Config{Brokers: []string{"k:1"}, Heartbeat: time.Nanosecond},
			[]string{"uplink.kafka.heartbeat: 1ns is outside 1s..1h0m0s"}},
		{"gapless off", Config{Brokers: []string{"k:1"}, Librdkafka: map[string]string{"enable.gapless.guarantee": "false"}},
			[]string{"uplink.kafka.librdkafka.enable.gapless.guarantee"}},
		{"timeout too small", Config{Brokers: []string{"k:1"}, Librdkafka: map[string]string{"message.timeout.ms": "10"}},
			[]string{`uplink.kafka.librdkafka.message.timeout.ms: "10": want 0 (never, the default) or 1000..2147483647 milliseconds`}},
		{"timeout not a number", Config{Brokers: []string{"k:1"}, Librdkafka: map[string]string{"delivery.timeout.ms": "3s"}},
			[]string{`uplink.kafka.librdkafka.delivery.timeout.ms: "3s"`}},
		{"timeout twice", Config{Brokers: []string{"k:1"}, Librdkafka: map[string]string{"delivery.timeout.ms": "3000", "message.timeout.ms": "3000"}},
			[]string{"delivery.timeout.ms: conflicts with message.timeout.ms"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.cfg.Validate()
			if !errors.Is(err, ErrConfig) {
				t.Fatalf("Validate: %v, want ErrConfig", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
	// Both spellings of the password file work and the line ending goes.
	for _, cfg := range []Config{
		{Brokers: []string{"k:1"}, SASLPasswordFile: pw},
		{Brokers: []string{"k:1"}, Librdkafka: map[string]string{"sasl.password_file": pw}},
	} {
		cm, err := baseConfig(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if cm["sasl.password"] != "hunter2" {
			t.Errorf("sasl.password = %q", cm["sasl.password"])
		}
		if _, ok := cm["sasl.password_file"]; ok {
			t.Error("sasl.password_file passed to librdkafka")
		}
	}
}

func TestNewForwarderRejectsUnknownProperty(t *testing.T) {
	_, err := NewForwarder(Config{Brokers: []string{"127.0.0.1:1"}, Librdkafka: map[string]string{"lingr.ms": "5"}}, "g", newMemQueue(), nil)
	if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "lingr.ms") {
		t.Fatalf("NewForwarder: %v, want ErrConfig naming lingr.ms", err)
	}
	if _, err := NewForwarder(Config{Brokers: []string{"127.0.0.1:1"}}, "", newMemQueue(), nil); !errors.Is(err, ErrConfig) {
		t.Fatalf("empty gateway: %v", err)
	}
}

func TestFlattenProperties(t *testing.T) {
	got, err := FlattenProperties(map[string]any{
		"security": map[string]any{"protocol": "SASL_SSL"},
		"sasl":     map[string]any{"mechanism": "SCRAM-SHA-512", "username": "gw"},
		"ssl":      map[string]any{"ca": map[string]any{"location": "/etc/ca.pem"}},
		"linger":   map[string]any{"ms": 20},
		"acks":     "all",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"security.protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-512", "sasl.username": "gw",
		"ssl.ca.location": "/etc/ca.pem", "linger.ms": "20", "acks": "all"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
	if _, err := FlattenProperties(map[string]any{"bootstrap": map[string]any{"servers": []any{"a", "b"}}}); !errors.Is(err, ErrConfig) {
		t.Errorf("list value: %v", err)
	}
}
