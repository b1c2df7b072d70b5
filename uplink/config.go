package uplink

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/rfidgw/rfidgw/internal/epcis"
)

// Defaults for Config fields left empty.
const (
	DefaultTopic        = "rfid.movements"
	DefaultStatusTopic  = "rfid.gateway-status"
	DefaultMaxInFlight  = 10000
	DefaultHeartbeat    = 30 * time.Second
	DefaultFlushTimeout = 5 * time.Second
	DefaultBackoffMin   = 100 * time.Millisecond
	DefaultBackoffMax   = 30 * time.Second
)

// Config is `uplink.kafka` of the gateway config (contract §4).
type Config struct {
	Brokers     []string `mapstructure:"brokers"`
	Topic       string   `mapstructure:"topic"`        // default rfid.movements
	StatusTopic string   `mapstructure:"status_topic"` // default rfid.gateway-status
	// EPCISTopic, when set, turns on the EPCIS 2.0 output: every movement
	// also goes to this topic as an EPCIS ObjectEvent (see epcis.go).
	EPCISTopic string `mapstructure:"epcis_topic"`
	// EPCIS maps events to EPCIS (zones' readPoint and bizLocation, bizStep
	// mapping, time zone); nil means the defaults. Set by the wiring.
	EPCIS *epcis.Encoder `mapstructure:"-"`
	// Librdkafka is passed through to librdkafka (security.protocol, sasl.*,
	// ssl.*, linger.ms, compression.type, ...). A few keys the delivery
	// guarantee depends on cannot be changed (see producerConfig).
	Librdkafka map[string]string `mapstructure:"librdkafka"`
	// SASLPasswordFile holds the SASL password, so it need not sit in the
	// YAML; librdkafka key "sasl.password_file" is accepted as well.
	SASLPasswordFile string `mapstructure:"sasl_password_file"`
	// MaxInFlight bounds the messages handed to the producer and not yet
	// reported (default 10000): one per event, two with the EPCIS topic on.
	MaxInFlight int `mapstructure:"max_in_flight"`
	// Heartbeat is the period of the gateway status heartbeat (default 30s).
	Heartbeat time.Duration `mapstructure:"heartbeat"`
	// FlushTimeout bounds the wait for outstanding delivery reports when Run
	// stops (default 5s); what is not reported by then stays in the buffer.
	FlushTimeout time.Duration `mapstructure:"flush_timeout"`
	// RetryBackoffMin and RetryBackoffMax bound the pause (with jitter)
	// before events are produced again after a failure (100ms..30s).
	RetryBackoffMin time.Duration `mapstructure:"retry_backoff_min"`
	RetryBackoffMax time.Duration `mapstructure:"retry_backoff_max"`
}

// withDefaults returns c with empty fields set to their defaults.
func (c Config) withDefaults() Config {
	if c.Topic == "" {
		c.Topic = DefaultTopic
	}
	if c.StatusTopic == "" {
		c.StatusTopic = DefaultStatusTopic
	}
	if c.MaxInFlight <= 0 {
		c.MaxInFlight = DefaultMaxInFlight
	}
	if c.Heartbeat <= 0 {
		c.Heartbeat = DefaultHeartbeat
	}
	if c.FlushTimeout <= 0 {
		c.FlushTimeout = DefaultFlushTimeout
	}
	if c.RetryBackoffMin <= 0 {
		c.RetryBackoffMin = DefaultBackoffMin
	}
	if c.RetryBackoffMax <= 0 {
		c.RetryBackoffMax = DefaultBackoffMax
	}
	if c.RetryBackoffMax < c.RetryBackoffMin {
		c.RetryBackoffMax = c.RetryBackoffMin
	}
	return c
}

// keyPrefix is where Config sits in the gateway config, for error messages.
const keyPrefix = "uplink.kafka."

// ownedKeys are librdkafka properties the delivery guarantee depends on:
// the value given is the only one accepted.
var ownedKeys = map[string][]string{
	"enable.idempotence":    {"true"},
	"acks":                  {"all", "-1"},
	"request.required.acks": {"all", "-1"},
}

// refusedKeys cannot be passed through at all, with the reason.
var refusedKeys = map[string]string{
	"transactional.id":           "the uplink does not use transactions",
	"delivery.report.only.error": "the uplink acknowledges events from successful delivery reports",
	"go.delivery.reports":        "the uplink needs delivery reports",
}

// producerConfig builds the librdkafka configuration of the forwarder's
// producer: our defaults, then the passthrough keys, then the keys the
// delivery guarantee depends on.
func producerConfig(c Config, clientID string) (kafka.ConfigMap, error) {
	cm, err := baseConfig(c)
	if err != nil {
		return nil, err
	}
	set := func(k string, v kafka.ConfigValue) { cm[k] = v }
	setDefault := func(k string, v kafka.ConfigValue) {
		if _, ok := cm[k]; !ok {
			cm[k] = v
		}
	}
	// Infinite: the buffer holds the backlog, and a message librdkafka
	// expires during an outage would have to be produced again anyway.
	setDefault("message.timeout.ms", "0")
	setDefault("compression.type", "lz4")
	setDefault("linger.ms", "5")
	// Reconnect within a second of the broker's return (default 10 s).
	setDefault("reconnect.backoff.max.ms", "1000")
	setDefault("max.in.flight.requests.per.connection", "5")
	setDefault("allow.auto.create.topics", "false")
	// Same key -> same partition as the Java client, for hub tooling.
	setDefault("partitioner", "murmur2_random")
	setDefault("client.id", clientID)
	// Room for the whole in-flight window plus status messages, so Produce
	// never fails with a full queue.
	setDefault("queue.buffering.max.messages", strconv.Itoa(max(c.MaxInFlight*2, 100000)))
	set("enable.idempotence", "true")
	set("acks", "all")
	delete(cm, "request.required.acks")
	// Delivery reports need only the opaque and the error: copying key
	// and value back costs a third of the throughput.
	set("go.delivery.report.fields", "none")
	set("go.events.channel.size", max(c.MaxInFlight*2, 100000))
	set("go.logs.channel.enable", true)
	return cm, nil
}

// ClientConfig is the librdkafka configuration every client of the
// cluster shares (brokers, the passthrough security and tuning keys, the
// SASL password from its file), for other clients of the product such as
// the remote config consumer. It validates nothing beyond what baseConfig
// checks.
func ClientConfig(c Config) (kafka.ConfigMap, error) {
	return baseConfig(c.withDefaults())
}

// baseConfig is what every client (producer, admin) of Config shares:
// brokers, the passthrough keys and the SASL password from its file.
func baseConfig(c Config) (kafka.ConfigMap, error) {
	var problems []string
	cm := kafka.ConfigMap{}
	keys := make([]string, 0, len(c.Librdkafka))
	for k := range c.Librdkafka {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	passwordFile := c.SASLPasswordFile
	for _, k := range keys {
		v := c.Librdkafka[k]
		switch {
		case k == "sasl.password_file":
			if passwordFile != "" && passwordFile != v {
				problems = append(problems, fmt.Sprintf("%slibrdkafka.sasl.password_file: conflicts with %ssasl_password_file %q; give one", keyPrefix, keyPrefix, passwordFile))
			}
			passwordFile = v
			continue
		case strings.HasPrefix(k, "go."):
			problems = append(problems, fmt.Sprintf("%slibrdkafka.%s: Go client settings are set by the uplink", keyPrefix, k))
			continue
		}
		if why, ok := refusedKeys[k]; ok {
			problems = append(problems, fmt.Sprintf("%slibrdkafka.%s: not allowed: %s", keyPrefix, k, why))
			continue
		}
		if allowed, ok := ownedKeys[k]; ok {
			good := false
			for _, a := range allowed {
				good = good || strings.EqualFold(v, a)
			}
			if !good {
				problems = append(problems, fmt.Sprintf("%slibrdkafka.%s: %q not allowed, must be %s (at-least-once, in order per EPC)", keyPrefix, k, v, allowed[0]))
			}
			continue
		}
		cm[k] = v
	}
	if len(c.Brokers) > 0 {
		if bs, ok := cm["bootstrap.servers"]; ok && bs != strings.Join(c.Brokers, ",") {
			problems = append(problems, fmt.Sprintf("%slibrdkafka.bootstrap.servers: conflicts with %sbrokers; give one", keyPrefix, keyPrefix))
		}
		for i, b := range c.Brokers {
			if strings.TrimSpace(b) == "" {
				problems = append(problems, fmt.Sprintf("%sbrokers[%d]: empty", keyPrefix, i))
			}
		}
		cm["bootstrap.servers"] = strings.Join(c.Brokers, ",")
	} else if _, ok := cm["bootstrap.servers"]; !ok {
		problems = append(problems, keyPrefix+"brokers: required (e.g. [kafka-1:9092])")
	}
	if passwordFile != "" {
		if _, ok := cm["sasl.password"]; ok {
			problems = append(problems, fmt.Sprintf("%slibrdkafka.sasl.password: conflicts with the password file %s; give one", keyPrefix, passwordFile))
		} else if pw, err := readSecret(passwordFile); err != nil {
			problems = append(problems, fmt.Sprintf("%ssasl_password_file: %v", keyPrefix, err))
		} else {
			cm["sasl.password"] = pw
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%w:\n  %s", ErrConfig, strings.Join(problems, "\n  "))
	}
	return cm, nil
}

// readSecret reads a one-line secret file, without its line ending.
func readSecret(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("reading secret: %w", err)
	}
	s := strings.TrimRight(string(b), "\r\n")
	if s == "" {
		return "", fmt.Errorf("secret file %s is empty", path)
	}
	return s, nil
}

// Validate checks cfg without contacting a broker: the keys the uplink owns,
// the password file, the topic names. librdkafka itself checks the
// passthrough keys when the producer is created (NewForwarder).
func (c Config) Validate() error {
	c = c.withDefaults()
	var problems []string
	if _, err := baseConfig(c); err != nil {
		return err
	}
	for key, t := range map[string]string{"topic": c.Topic, "status_topic": c.StatusTopic} {
		if err := validTopic(t); err != nil {
			problems = append(problems, fmt.Sprintf("%s%s: %v", keyPrefix, key, err))
		}
	}
	if c.EPCISTopic != "" {
		if err := validTopic(c.EPCISTopic); err != nil {
			problems = append(problems, fmt.Sprintf("%sepcis_topic: %v", keyPrefix, err))
		} else if c.EPCISTopic == c.Topic || c.EPCISTopic == c.StatusTopic {
			problems = append(problems, fmt.Sprintf("%sepcis_topic: %q is already the events or status topic; EPCIS needs its own", keyPrefix, c.EPCISTopic))
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return fmt.Errorf("%w:\n  %s", ErrConfig, strings.Join(problems, "\n  "))
	}
	return nil
}

// validTopic applies Kafka's topic name rules.
func validTopic(t string) error {
	if len(t) > 249 {
		return fmt.Errorf("topic %q longer than 249 characters", t)
	}
	if t == "." || t == ".." {
		return fmt.Errorf("topic %q not allowed", t)
	}
	for _, r := range t {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return fmt.Errorf("topic %q: character %q not allowed (only a-z A-Z 0-9 . _ -)", t, r)
		}
	}
	return nil
}

// FlattenProperties turns the librdkafka map as viper returns it into
// flat librdkafka properties. Viper splits keys on dots, so
// `librdkafka: {security.protocol: SSL}` arrives as
// {"security": {"protocol": "SSL"}}; this joins the path back
// ("security.protocol" = "SSL"). Values are formatted with %v.
func FlattenProperties(v any) (map[string]string, error) {
	out := map[string]string{}
	var walk func(prefix string, v any) error
	walk = func(prefix string, v any) error {
		switch m := v.(type) {
		case map[string]any:
			for k, x := range m {
				if err := walk(joinKey(prefix, k), x); err != nil {
					return err
				}
			}
		case map[any]any:
			for k, x := range m {
				if err := walk(joinKey(prefix, fmt.Sprint(k)), x); err != nil {
					return err
				}
			}
		case map[string]string:
			for k, x := range m {
				out[joinKey(prefix, k)] = x
			}
		case nil:
			if prefix != "" {
				out[prefix] = ""
			}
		case []any:
			return fmt.Errorf("%w: %slibrdkafka.%s: a list, want a single value (librdkafka lists are comma-separated strings)", ErrConfig, keyPrefix, prefix)
		default:
			if prefix == "" {
				return fmt.Errorf("%w: %slibrdkafka: want a map of properties, got %T", ErrConfig, keyPrefix, v)
			}
			out[prefix] = fmt.Sprint(m)
		}
		return nil
	}
	if err := walk("", v); err != nil {
		return nil, err
	}
	return out, nil
}

func joinKey(prefix, k string) string {
	if prefix == "" {
		return k
	}
	return prefix + "." + k
}
