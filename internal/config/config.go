// Package config owns the gateway configuration file (docs/config.md): the
// struct that holds every default, strict loading with viper (an unknown key
// is an error), RFIDGW_ environment overrides, and validation that lists
// every problem by its key path. It composes the config types that the
// stages own (reader.Config, edge.Zone, edge.Settings) and takes their
// defaults from them; it is used by the commands in cmd/rfidgw and by the
// daemon's wiring in internal/gateway. Reader entries are decoded
// and checked by their type as registered in package reader (see
// reader/all); this package knows no reader type.
package config

import (
	"time"

	"github.com/rfidgw/rfidgw/buffer"
	"github.com/rfidgw/rfidgw/edge"
	"github.com/rfidgw/rfidgw/internal/epcis"
	"github.com/rfidgw/rfidgw/reader"
	_ "github.com/rfidgw/rfidgw/reader/all" // every reader type of the build
	"github.com/rfidgw/rfidgw/uplink"
)

// Config is the whole gateway configuration.
type Config struct {
	Gateway Gateway         `mapstructure:"gateway"`
	Readers []reader.Config `mapstructure:"-"` // decoded per type by reader.DecodeEntry
	Zones   []edge.Zone     `mapstructure:"zones"`
	Filter  Filter          `mapstructure:"filter"`
	Edge    edge.Settings   `mapstructure:"edge"`
	Buffer  Buffer          `mapstructure:"buffer"`
	Uplink  Uplink          `mapstructure:"uplink"`
	HTTP    HTTP            `mapstructure:"http"`
	Record  Record          `mapstructure:"record"`
	Log     Log             `mapstructure:"log"`

	RemoteConfig RemoteConfig `mapstructure:"remote_config"`

	// File is the path the config was loaded from (not a key).
	File string `mapstructure:"-"`

	lines       yamlIndex      // key path -> line in File, for problems
	readerTypes map[int]string // readers[i].type as written, for "did you mean"
}

// Gateway identifies this gateway.
type Gateway struct {
	ID      string `mapstructure:"id"`
	DataDir string `mapstructure:"data_dir"`
}

// Buffer bounds the local event buffer.
type Buffer struct {
	MaxBytes    ByteSize `mapstructure:"max_bytes"`
	MinFreeDisk ByteSize `mapstructure:"min_free_disk"`
	OnFull      string   `mapstructure:"on_full"`
}

// Filter is the gateway-wide read filter: EPC patterns (internal/gs1) a
// read must match one of (accept, when not empty) and must match none of
// (ignore), before the engine sees it. Zones have their own lists too.
type Filter struct {
	Accept []string `mapstructure:"accept"`
	Ignore []string `mapstructure:"ignore"`
}

// Uplink holds the Kafka settings.
type Uplink struct {
	Kafka Kafka `mapstructure:"kafka"`
	EPCIS EPCIS `mapstructure:"epcis"`
}

// EPCIS is the mapping of movements to EPCIS 2.0 events (used by the EPCIS
// topic and `rfidgw replay --format epcis`; see internal/epcis).
type EPCIS struct {
	TimeZone     string            `mapstructure:"time_zone"`    // IANA name or +hh:mm; default +00:00
	BizSteps     map[string]string `mapstructure:"biz_steps"`    // movement type -> CBV bizStep or URI
	Dispositions map[string]string `mapstructure:"dispositions"` // movement type -> CBV disposition or URI
}

// Kafka is the uplink to central Kafka.
type Kafka struct {
	Brokers          []string       `mapstructure:"brokers"`
	Topic            string         `mapstructure:"topic"`
	StatusTopic      string         `mapstructure:"status_topic"`
	EPCISTopic       string         `mapstructure:"epcis_topic"` // empty: no EPCIS output
	Librdkafka       map[string]any `mapstructure:"librdkafka"`  // viper splits dotted keys: see uplink.FlattenProperties
	SASLPasswordFile string         `mapstructure:"sasl_password_file"`
	MaxInFlight      int            `mapstructure:"max_in_flight"`
	Heartbeat        time.Duration  `mapstructure:"heartbeat"`
}

// HTTP is the health, metrics and zone-page listener.
type HTTP struct {
	Listen    string `mapstructure:"listen"`
	TokenFile string `mapstructure:"token_file"`
}

// Record keeps raw reads for tuning with `rfidgw replay`.
type Record struct {
	Path     string   `mapstructure:"path"`
	MaxBytes ByteSize `mapstructure:"max_bytes"`
}

// RemoteConfig opts in to configuration pushed from the centre through
// Kafka (package remoteconfig): it is on when PublicKeys lists a key.
type RemoteConfig struct {
	Topic         string        `mapstructure:"topic"`          // compacted topic, default rfid.gateway-config
	PublicKeys    []string      `mapstructure:"public_keys"`    // PEM files of the accepted signing keys
	RollbackAfter time.Duration `mapstructure:"rollback_after"` // health gate after applying a push, default 60s
}

// Enabled reports whether the gateway takes remote config.
func (r RemoteConfig) Enabled() bool { return len(r.PublicKeys) > 0 }

// Log selects the log output.
type Log struct {
	Level  string `mapstructure:"level"`  // debug | info | warn | error
	Format string `mapstructure:"format"` // auto | text | json
}

// Defaults that belong to the config file itself (the stages' own defaults
// come from their packages: buffer, uplink, edge, reader/...).
const (
	DefaultDataDir    = "/var/lib/rfidgw"
	DefaultHTTPListen = "127.0.0.1:9870"
	// remote_config (package remoteconfig, which imports this one, uses them).
	DefaultRemoteConfigTopic = "rfid.gateway-config"
	DefaultRollbackAfter     = 60 * time.Second
)

// Default returns a config holding every default (docs/config.md lists them).
func Default() Config {
	return Config{
		Gateway: Gateway{DataDir: DefaultDataDir},
		Edge:    edge.DefaultSettings(),
		Buffer: Buffer{
			MaxBytes:    buffer.DefaultMaxBytes,
			MinFreeDisk: buffer.DefaultMinFreeDisk,
			OnFull:      buffer.DropOldest,
		},
		Uplink: Uplink{Kafka: Kafka{
			Topic:       uplink.DefaultTopic,
			StatusTopic: uplink.DefaultStatusTopic,
			MaxInFlight: uplink.DefaultMaxInFlight,
			Heartbeat:   uplink.DefaultHeartbeat,
		}},
		HTTP:   HTTP{Listen: DefaultHTTPListen},
		Record: Record{MaxBytes: edge.DefaultRecordMaxBytes},
		Log:    Log{Level: "info", Format: "auto"},
		RemoteConfig: RemoteConfig{
			Topic:         DefaultRemoteConfigTopic,
			RollbackAfter: DefaultRollbackAfter,
		},
	}
}

// EPCISConfig is the EPCIS mapping of the config: uplink.epcis and each
// zone's epcis URIs.
func (c *Config) EPCISConfig() epcis.Config {
	ec := epcis.Config{TimeZone: c.Uplink.EPCIS.TimeZone, BizSteps: c.Uplink.EPCIS.BizSteps, Dispositions: c.Uplink.EPCIS.Dispositions, Zones: map[string]epcis.Zone{}}
	for _, z := range c.Zones {
		ec.Zones[z.ID] = epcis.Zone{ReadPoint: z.EPCIS.ReadPoint, BizLocation: z.EPCIS.BizLocation}
	}
	return ec
}
