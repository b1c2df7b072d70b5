package serial

import (
	"errors"
	"regexp"

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
}

func init() {
	reader.Register(reader.Type{
		Name:     reader.TypeSerial,
		Settings: func() reader.Settings { return &Settings{Baud: DefaultBaud} },
		New: func(c reader.Config, env reader.Env) (reader.Source, error) {
			return New(c, env.Logger())
		},
		Fix: "check the cable, the device path (prefer /dev/serial/by-id/...), the baud rate and that rfidgw is in the dialout group",
	})
}

// Validate checks the settings of entry c (keys relative to the entry).
func (s *Settings) Validate(c *reader.Config) []error {
	var errs []error
	if s.Device == "" {
		errs = append(errs, keyed.Errorf("device", "required for a serial reader (e.g. /dev/serial/by-id/...)"))
	}
	switch s.Protocol {
	case ProtocolThingMagic, ProtocolR2000, ProtocolASCII:
	case "":
		errs = append(errs, keyed.Errorf("protocol", "required (thingmagic, r2000 or ascii)"))
	default:
		errs = append(errs, keyed.Errorf("protocol", "%q is not one of thingmagic, r2000, ascii", s.Protocol))
	}
	if s.Pattern != "" {
		if _, err := regexp.Compile(s.Pattern); err != nil {
			errs = append(errs, keyed.Errorf("pattern", "%v", err))
		}
	}
	return errs
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
