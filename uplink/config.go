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
	"github.com/rfidgw/rfidgw/internal/metrics"
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

// Bounds of the numeric settings (Validate): what works, not what parses.
// MaxInFlight sizes librdkafka's queue and the delivery report channel
// (two slots per event), so a billion would exhaust memory; a heartbeat
// below a second floods the status topic.
const (
	MaxMaxInFlight  = 1_000_000
	MinHeartbeat    = time.Second
	MaxHeartbeat    = time.Hour
	MaxFlushTimeout = 10 * time.Second // within the daemon's stop bound
	MinRetryBackoff = 10 * time.Millisecond
	MaxRetryBackoff = 10 * time.Minute
)

// Config is `uplink.kafka` of the gateway config (docs/config.md).
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
	// Metrics receives the rfidgw_uplink_* metrics (the daemon's); nil gives
	// the forwarder a private Metrics that nobody serves.
	Metrics *metrics.Metrics `mapstructure:"-"`
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
	"enable.idempotence": {"true"},
	// A possible gap inside librdkafka (a batch failing after later ones
	// were sent) becomes a fatal error, so the producer is recreated and
	// every unacknowledged event is sent again in seq order.
	"enable.gapless.guarantee": {"true"},
	"acks":                     {"all", "-1"},
	"request.required.acks":    {"all", "-1"},
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
	// Infinite, always: the buffer holds the backlog, and a message that
	// librdkafka expires lets it send later messages of the same partition
	// first (it carries on past the gap). A message.timeout.ms given in the
	// config is the forwarder's own deadline instead (deliveryTimeout).
	set("message.timeout.ms", "0")
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
	set("enable.gapless.guarantee", "true")
	set("acks", "all")
	delete(cm, "request.required.acks")
	// Delivery reports need only the opaque and the error: copying key
	// and value back costs a third of the throughput.
	set("go.delivery.report.fields", "none")
	set("go.events.channel.size", max(c.MaxInFlight*2, 100000))
	set("go.logs.channel.enable", true)
	return cm, nil
}

// timeoutKeys are librdkafka's names for the per-message delivery timeout.
var timeoutKeys = map[string]bool{"message.timeout.ms": true, "delivery.timeout.ms": true}

// Bounds of a finite delivery timeout: below the minimum the producer would
// be recreated on every slow broker answer; the maximum is librdkafka's.
const (
	minDeliveryTimeout = time.Second
	maxDeliveryTimeout = 2147483647 * time.Millisecond
)

// parseDeliveryTimeout checks a message.timeout.ms value: 0 (never) or
// minDeliveryTimeout..maxDeliveryTimeout in milliseconds.
func parseDeliveryTimeout(key, v string) (time.Duration, error) {
	ms, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	d := time.Duration(ms) * time.Millisecond
	if err != nil || ms < 0 || (ms > 0 && (d < minDeliveryTimeout || d > maxDeliveryTimeout)) {
		return 0, fmt.Errorf("%slibrdkafka.%s: %q: want 0 (never, the default) or %d..%d milliseconds",
			keyPrefix, key, v, minDeliveryTimeout.Milliseconds(), maxDeliveryTimeout.Milliseconds())
	}
	return d, nil
}

// deliveryTimeout is the forwarder's deadline for delivery reports, from
// librdkafka.message.timeout.ms (or its alias delivery.timeout.ms); 0 means
// none. librdkafka itself never expires a message: when events are in
// flight and no report came for this long, the forwarder closes the
// producer and sends every unacknowledged event again, in seq order, with
// a new one, which keeps the order per EPC that expiring inside librdkafka
// would break.
func deliveryTimeout(c Config) (time.Duration, error) {
	m, okM := c.Librdkafka["message.timeout.ms"]
	a, okA := c.Librdkafka["delivery.timeout.ms"]
	key, v := "message.timeout.ms", m
	switch {
	case okM && okA:
		return 0, fmt.Errorf("%w: %slibrdkafka.delivery.timeout.ms: conflicts with message.timeout.ms (the same setting); give one", ErrConfig, keyPrefix)
	case okA:
		key, v = "delivery.timeout.ms", a
	case !okM:
		return 0, nil
	}
	d, err := parseDeliveryTimeout(key, v)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return d, nil
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
		if timeoutKeys[k] {
			if _, err := parseDeliveryTimeout(k, v); err != nil {
				problems = append(problems, err.Error())
			}
			continue // the forwarder's own deadline; librdkafka's stays 0
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
	if _, err := deliveryTimeout(c); err != nil {
		return err
	}
	if c.MaxInFlight > MaxMaxInFlight {
		problems = append(problems, fmt.Sprintf("%smax_in_flight: %d is outside 1..%d", keyPrefix, c.MaxInFlight, MaxMaxInFlight))
	}
	if c.Heartbeat < MinHeartbeat || c.Heartbeat > MaxHeartbeat {
		problems = append(problems, fmt.Sprintf("%sheartbeat: %v is outside %v..%v", keyPrefix, c.Heartbeat, MinHeartbeat, MaxHeartbeat))
	}
	if c.FlushTimeout > MaxFlushTimeout {
		problems = append(problems, fmt.Sprintf("%sflush_timeout: %v is above %v", keyPrefix, c.FlushTimeout, MaxFlushTimeout))
	}
	for key, d := range map[string]time.Duration{"retry_backoff_min": c.RetryBackoffMin, "retry_backoff_max": c.RetryBackoffMax} {
		if d < MinRetryBackoff || d > MaxRetryBackoff {
			problems = append(problems, fmt.Sprintf("%s%s: %v is outside %v..%v", keyPrefix, key, d, MinRetryBackoff, MaxRetryBackoff))
		}
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
