package mqtt

import (
	"errors"

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
	// ReaderClock: "correct" (default) brings reader timestamps more than
	// 2 s off the gateway clock to gateway time; "trust" keeps them as sent
	// (replaying recorded payloads on purpose).
	ReaderClock string `mapstructure:"reader_clock"`
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
			return New(c, env)
		},
		Fix: "check the broker URL, credentials (password_file), TLS files and the topic",
	})
}

// Validate checks the settings of entry c (keys relative to the entry)
// with the rules New applies: one set of rules for both.
func (s *Settings) Validate(c *reader.Config) []error { return s.problems(c) }

// Exclusive: two entries must not share a client id, which names one
// broker session (reader.Exclusive).
func (s *Settings) Exclusive(*reader.Config) (key, value, why string) {
	return "client_id", s.ClientID, "each MQTT reader needs its own broker session"
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
