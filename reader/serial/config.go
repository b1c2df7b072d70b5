package serial

import (
	"errors"
	"fmt"
	"time"

	"github.com/rfidgw/rfidgw/internal/keyed"
	"github.com/rfidgw/rfidgw/reader"
)

// Settings are the keys of a `readers:` entry of type serial.
type Settings struct {
	Device   string `mapstructure:"device"`   // e.g. /dev/serial/by-id/usb-...
	Protocol string `mapstructure:"protocol"` // thingmagic | r2000 | ascii
	Baud     int    `mapstructure:"baud"`     // default 115200
	Region   string `mapstructure:"region"`   // thingmagic: optional region to set (e.g. "EU3", "NA2")
	Pattern  string `mapstructure:"pattern"`  // ascii: regexp with named groups epc, antenna, rssi
	// FreezeAfter is how long a module may stay silent (thingmagic: no
	// byte, heartbeats included; r2000: no inventory round answered;
	// ascii: no line) before it counts as hung and the port is opened and
	// the module set up again. 0 = the protocol's default: thingmagic 5s,
	// r2000 9s, ascii off (an ASCII module is silent when no tag is there).
	FreezeAfter time.Duration `mapstructure:"freeze_after"`
}

// minFreezeAfter bounds freeze_after from below: shorter would take a
// busy module's pause for a hang.
const minFreezeAfter = 100 * time.Millisecond

func init() {
	reader.Register(reader.Type{
		Name:     reader.TypeSerial,
		Settings: func() reader.Settings { return &Settings{Baud: DefaultBaud} },
		New: func(c reader.Config, env reader.Env) (reader.Source, error) {
			return New(c, env)
		},
		Fix: "check the cable, the device path (prefer /dev/serial/by-id/...), the baud rate and that rfidgw is in the dialout group",
	})
}

// Validate checks the settings of entry c (keys relative to the entry)
// with the rules New applies: one set of rules for both.
func (s *Settings) Validate(c *reader.Config) []error { return s.problems(c) }

// problems lists every problem of entry c; each error names the reader for
// New and carries its key for config validation.
func (s *Settings) problems(c *reader.Config) []error {
	var errs []error
	add := func(key, format string, args ...any) { errs = append(errs, bad(c.ID, key, format, args...)) }
	if s.Device == "" {
		add("device", "missing (e.g. /dev/ttyUSB0 or /dev/serial/by-id/usb-…)")
	}
	if s.FreezeAfter < 0 || (s.FreezeAfter > 0 && s.FreezeAfter < minFreezeAfter) {
		add("freeze_after", "%v: want 0 (the protocol's default) or at least %v, e.g. 10s", s.FreezeAfter, minFreezeAfter)
	}
	if s.Baud < 0 {
		add("baud", "%d is not a baud rate", s.Baud)
	}
	maxAnt := 0
	switch s.Protocol {
	case ProtocolThingMagic:
		maxAnt = 16 // the metadata antenna nibble: 1..15, and 0 for 16
		if s.Region != "" {
			if _, err := ThingMagicRegion(s.Region); err != nil {
				add("region", "%v", err)
			}
		}
	case ProtocolR2000:
		maxAnt = 8
	case ProtocolASCII:
		if _, err := NewASCIIDecoder(s.Pattern); err != nil {
			errs = append(errs, fmt.Errorf("reader %q: %w", c.ID, err)) // tagged with its key
		}
	case "":
		add("protocol", "missing (thingmagic | r2000 | ascii)")
	default:
		add("protocol", "%q is not thingmagic, r2000 or ascii", s.Protocol)
	}
	if s.Region != "" && s.Protocol != ProtocolThingMagic {
		add("region", "only protocol thingmagic sets a region")
	}
	if s.Pattern != "" && s.Protocol != ProtocolASCII {
		add("pattern", "only protocol ascii uses a pattern")
	}
	for i, a := range c.Antennas {
		if a < 1 || (maxAnt > 0 && a > maxAnt) {
			add(fmt.Sprintf("antennas[%d]", i), "%d is not an antenna port 1..%d for protocol %s", a, maxAnt, s.Protocol)
		}
	}
	return errs
}

// bad is a config error of reader id at key: it wraps ErrConfig, names the
// reader and carries the key (keyed.Tag).
func bad(id, key, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	return keyed.Tag(fmt.Errorf("%w: reader %q: %s: %s", ErrConfig, id, key, msg), key, "%s", msg)
}

// settingsOf returns the serial settings of c (defaults when it has none).
func settingsOf(c reader.Config) (*Settings, error) {
	switch s := c.Settings.(type) {
	case nil:
		return &Settings{}, nil
	case *Settings:
		return s, nil
	}
	return nil, errors.New("settings are not serial settings")
}
