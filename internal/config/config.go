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
	"github.com/rfidgw/rfidgw/reader"
	_ "github.com/rfidgw/rfidgw/reader/all" // every reader type of the build
	"github.com/rfidgw/rfidgw/uplink"
)

// Config is the whole gateway configuration.
type Config struct {
	Gateway Gateway         `mapstructure:"gateway"`
	Readers []reader.Config `mapstructure:"-"` // decoded per type by reader.DecodeEntry
	Zones   []edge.Zone     `mapstructure:"zones"`
	Edge    edge.Settings   `mapstructure:"edge"`
	Buffer  Buffer          `mapstructure:"buffer"`
	Uplink  Uplink          `mapstructure:"uplink"`
	HTTP    HTTP            `mapstructure:"http"`
	Record  Record          `mapstructure:"record"`
	Log     Log             `mapstructure:"log"`

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

// Uplink holds the Kafka settings.
type Uplink struct {
	Kafka Kafka `mapstructure:"kafka"`
}

// Kafka is the uplink to central Kafka.
type Kafka struct {
	Brokers          []string       `mapstructure:"brokers"`
	Topic            string         `mapstructure:"topic"`
	StatusTopic      string         `mapstructure:"status_topic"`
	Librdkafka       map[string]any `mapstructure:"librdkafka"` // viper splits dotted keys: see uplink.FlattenProperties
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
	}
}
