package mqtt

import (
	"errors"
	"strings"

	"github.com/rfidgw/rfidgw/internal/keyed"
	"github.com/rfidgw/rfidgw/reader"
)

// Settings are the keys of a `readers:` entry of type mqtt (besides
// `provides`, which the type takes with reader_from_topic).
type Settings struct {
	Broker          string              `mapstructure:"broker"` // tcp://, ssl://, ws://, wss://
	Topic           string              `mapstructure:"topic"`
	Format          string              `mapstructure:"format"` // impinj | zebra | json
	ClientID        string              `mapstructure:"client_id"`
	Username        string              `mapstructure:"username"`
	PasswordFile    string              `mapstructure:"password_file"`
	QoS             *int                `mapstructure:"qos"` // default 1
	TLS             *reader.TLS         `mapstructure:"tls"`
	ReaderFromTopic int                 `mapstructure:"reader_from_topic"` // 1-based topic level holding the reader id
	StatusTopic     string              `mapstructure:"status_topic"`
	Mapping         *reader.JSONMapping `mapstructure:"mapping"` // format json
}

func init() {
	reader.Register(reader.Type{
		Name: reader.TypeMQTT,
		Settings: func() reader.Settings {
			q := 1
			return &Settings{QoS: &q}
		},
		Provides: true,
		New: func(c reader.Config, env reader.Env) (reader.Source, error) {
			return New(c, env.Logger(), WithGatewayID(env.GatewayID))
		},
		Fix: "check the broker URL, credentials (password_file), TLS files and the topic",
	})
}

// Validate checks the settings of entry c (keys relative to the entry).
func (s *Settings) Validate(c *reader.Config) []error {
	var errs []error
	if s.Broker == "" {
		errs = append(errs, keyed.Errorf("broker", "required for an mqtt reader (tcp://host:1883, ssl://host:8883 or ws://)"))
	} else if !hasAnyPrefix(s.Broker, "tcp://", "ssl://", "tls://", "ws://", "wss://") {
		errs = append(errs, keyed.Errorf("broker", "%q must start with tcp://, ssl://, ws:// or wss://", s.Broker))
	}
	if s.Topic == "" {
		errs = append(errs, keyed.Errorf("topic", "required for an mqtt reader"))
	}
	switch s.Format {
	case FormatImpinj, FormatZebra:
	case FormatJSON:
		if s.Mapping == nil || s.Mapping.EPC == "" {
			errs = append(errs, keyed.Errorf("mapping.epc", "required with format json (the field path of the EPC)"))
		}
	case "":
		errs = append(errs, keyed.Errorf("format", "required (impinj, zebra or json)"))
	default:
		errs = append(errs, keyed.Errorf("format", "%q is not one of impinj, zebra, json", s.Format))
	}
	if s.QoS != nil && (*s.QoS < 0 || *s.QoS > 2) {
		errs = append(errs, keyed.Errorf("qos", "%d is not 0, 1 or 2", *s.QoS))
	}
	return errs
}

// Exclusive: two entries must not share a client id, which names one
// broker session (reader.Exclusive).
func (s *Settings) Exclusive(*reader.Config) (key, value, why string) {
	return "client_id", s.ClientID, "each MQTT reader needs its own broker session"
}

func hasAnyPrefix(s string, prefixes ...string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// settingsOf returns the mqtt settings of c (defaults when it has none).
func settingsOf(c reader.Config) (*Settings, error) {
	switch s := c.Settings.(type) {
	case nil:
		return &Settings{}, nil
	case *Settings:
		return s, nil
	}
	return nil, errors.New("settings are not mqtt settings")
}
