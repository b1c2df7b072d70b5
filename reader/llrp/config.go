package llrp

import (
	"errors"
	"net"
	"time"

	"github.com/rfidgw/rfidgw/internal/keyed"
	"github.com/rfidgw/rfidgw/reader"
)

// Settings are the keys of a `readers:` entry of type llrp.
type Settings struct {
	Address   string        `mapstructure:"address"`   // host:port, 5084 (TLS 5085)
	TLS       *reader.TLS   `mapstructure:"tls"`       // LLRP over TLS when set
	Keepalive time.Duration `mapstructure:"keepalive"` // reader keepalive interval
}

func init() {
	reader.Register(reader.Type{
		Name:     reader.TypeLLRP,
		Settings: func() reader.Settings { return &Settings{Keepalive: DefaultKeepalive} },
		New: func(c reader.Config, env reader.Env) (reader.Source, error) {
			return New(c, env.Logger())
		},
		Fix: "check the reader's address and port (5084, TLS 5085), that it is powered and no other client holds its LLRP connection",
	})
}

// Validate checks the settings of entry c (keys relative to the entry).
func (s *Settings) Validate(c *reader.Config) []error {
	var errs []error
	if s.Address == "" {
		errs = append(errs, keyed.Errorf("address", "required for an llrp reader (host:port, port 5084 or 5085 for TLS)"))
	} else if _, _, err := net.SplitHostPort(s.Address); err != nil {
		errs = append(errs, keyed.Errorf("address", "%q is not host:port", s.Address))
	}
	if s.Keepalive < 0 {
		errs = append(errs, keyed.Errorf("keepalive", "must not be negative"))
	}
	return errs
}

// settingsOf returns the llrp settings of c (defaults when it has none).
func settingsOf(c reader.Config) (*Settings, error) {
	switch s := c.Settings.(type) {
	case nil:
		return &Settings{}, nil
	case *Settings:
		return s, nil
	}
	return nil, errors.New("settings are not llrp settings")
}
