package hub

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Defaults of Config.
const (
	DefaultTopic            = "rfid.movements"
	DefaultStatusTopic      = "rfid.gateway-status"
	DefaultLocationsTopic   = "rfid.locations"
	DefaultDLQTopic         = "rfid.movements.dlq"
	DefaultGroup            = "rfidgw-hub"
	DefaultListen           = "127.0.0.1:8090"
	DefaultHoleTimeout      = 10 * time.Minute
	DefaultCrossFloorWindow = 30 * time.Minute
	DefaultDedupeWindow     = 1 << 16
	DefaultHistory          = 50
	DefaultFlushInterval    = 500 * time.Millisecond
)

// Bounds of Config values.
const (
	maxDedupeWindow = 1 << 22
	maxHistory      = 1000
)

// Config is the hub's configuration: the `hub:` section of its own YAML file
// (e.g. /etc/rfidgw/hub.yaml). Every field has a default; `rfidgw hub
// --brokers LIST --listen ADDR` needs no file.
type Config struct {
	Brokers        []string `yaml:"brokers"`
	Topic          string   `yaml:"topic"`           // events, default rfid.movements
	StatusTopic    string   `yaml:"status_topic"`    // default rfid.gateway-status
	LocationsTopic string   `yaml:"locations_topic"` // compacted, default rfid.locations
	DLQTopic       string   `yaml:"dlq_topic"`       // default rfid.movements.dlq
	Group          string   `yaml:"group"`           // consumer group of the asset view, default rfidgw-hub
	// Instance names this hub instance (default: host name and pid); the
	// audit consumer's group is <group>-audit-<instance>.
	Instance string `yaml:"instance"`
	Listen   string `yaml:"listen"` // HTTP, default 127.0.0.1:8090
	// Token is required as "Authorization: Bearer <token>" on the API; it
	// must be set when listen is not a loopback address.
	Token     string `yaml:"token"`
	TokenFile string `yaml:"token_file"`
	// HoleTimeout: a hole is reported missing at the latest this long after
	// it was noticed, even without a status that says the gateway moved past it.
	HoleTimeout Duration `yaml:"hole_timeout"`
	// CrossFloorWindow: a rack_depart on one gateway and a placement on
	// another within this time are one cross-floor move.
	CrossFloorWindow Duration `yaml:"cross_floor_window"`
	// DedupeWindow is how many seqs above the lowest unsettled seq of a
	// gateway epoch are tracked one by one (a bit and a byte each).
	DedupeWindow int `yaml:"dedupe_window"`
	// History is how many movements per asset are kept and served.
	History int `yaml:"history"`
	// FlushInterval paces the locations topic and offset commits.
	FlushInterval Duration `yaml:"flush_interval"`
	// Librdkafka is passed to confluent-kafka-go (security.protocol, sasl.*, ssl.*).
	Librdkafka map[string]string `yaml:"librdkafka"`
}

// Duration is a time.Duration written as "10m" in YAML.
type Duration time.Duration

// UnmarshalYAML parses "1m30s".
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration (e.g. 30s, 10m): %w", n.Line, n.Value, err)
	}
	*d = Duration(v)
	return nil
}

// Default returns the configuration with every default.
func Default() Config {
	return Config{
		Topic:            DefaultTopic,
		StatusTopic:      DefaultStatusTopic,
		LocationsTopic:   DefaultLocationsTopic,
		DLQTopic:         DefaultDLQTopic,
		Group:            DefaultGroup,
		Listen:           DefaultListen,
		HoleTimeout:      Duration(DefaultHoleTimeout),
		CrossFloorWindow: Duration(DefaultCrossFloorWindow),
		DedupeWindow:     DefaultDedupeWindow,
		History:          DefaultHistory,
		FlushInterval:    Duration(DefaultFlushInterval),
	}
}

// Load reads the `hub:` section of a YAML file strictly: an unknown key, a
// wrong type or a bad duration is an error naming the line. It does not
// validate; call Validate.
func Load(path string) (Config, error) {
	cfg := Default()
	b, err := os.ReadFile(path)
	if err != nil {
		return cfg, fmt.Errorf("%w: %s: cannot read: %w", ErrConfig, path, err)
	}
	var file struct {
		Hub *Config `yaml:"hub"`
	}
	file.Hub = &cfg
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&file); err != nil && !errors.Is(err, io.EOF) {
		return cfg, fmt.Errorf("%w: %s: %v", ErrConfig, path, err)
	}
	return cfg, nil
}

// Validate checks every value and returns all problems, one per line, by key.
func (c *Config) Validate() error {
	var p []string
	add := func(f string, a ...any) { p = append(p, fmt.Sprintf(f, a...)) }
	if len(c.Brokers) == 0 {
		add("hub.brokers: at least one broker is required (host:port)")
	}
	for i, b := range c.Brokers {
		if _, _, err := net.SplitHostPort(b); err != nil {
			add("hub.brokers[%d]: %q is not host:port", i, b)
		}
	}
	for k, v := range map[string]string{"topic": c.Topic, "status_topic": c.StatusTopic,
		"locations_topic": c.LocationsTopic, "dlq_topic": c.DLQTopic, "group": c.Group} {
		if v == "" || len(v) > 249 || strings.ContainsAny(v, " /\\,:") {
			add("hub.%s: %q is not a valid Kafka name (1..249 chars, no spaces, slashes, commas or colons)", k, v)
		}
	}
	if c.Topic == c.DLQTopic || c.Topic == c.LocationsTopic {
		add("hub.dlq_topic and hub.locations_topic must differ from hub.topic %q", c.Topic)
	}
	host, _, err := net.SplitHostPort(c.Listen)
	if err != nil {
		add("hub.listen: %q is not host:port", c.Listen)
	}
	if c.TokenFile != "" {
		b, err := os.ReadFile(c.TokenFile)
		if err != nil {
			add("hub.token_file: %v", err)
		} else {
			c.Token = strings.TrimSpace(string(b))
		}
	}
	if err == nil && c.Token == "" {
		if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			add("hub.listen: %q is not a loopback address: set hub.token or hub.token_file", c.Listen)
		}
	}
	if d := time.Duration(c.HoleTimeout); d < time.Second || d > 7*24*time.Hour {
		add("hub.hole_timeout: %s out of range 1s..168h", d)
	}
	if d := time.Duration(c.CrossFloorWindow); d < 0 || d > 7*24*time.Hour {
		add("hub.cross_floor_window: %s out of range 0..168h", d)
	}
	if d := time.Duration(c.FlushInterval); d < 10*time.Millisecond || d > time.Minute {
		add("hub.flush_interval: %s out of range 10ms..1m", d)
	}
	if c.DedupeWindow < 64 || c.DedupeWindow > maxDedupeWindow {
		add("hub.dedupe_window: %d out of range 64..%d", c.DedupeWindow, maxDedupeWindow)
	}
	if c.History < 1 || c.History > maxHistory {
		add("hub.history: %d out of range 1..%d", c.History, maxHistory)
	}
	if len(p) > 0 {
		return fmt.Errorf("%w:\n%s", ErrConfig, strings.Join(p, "\n"))
	}
	return nil
}
