package reader

import "slices"

// Names of the built-in reader types. The registry (Register, Lookup) is
// what knows the types; these only spare the tests and the zone page a
// string literal.
const (
	TypeLLRP   = "llrp"
	TypeSerial = "serial"
	TypeMQTT   = "mqtt"
	TypeFile   = "file"
)

// TLS holds file paths for a TLS client (LLRP over TLS, MQTT ssl://). The
// types that use it embed it in their settings as `tls`.
type TLS struct {
	CA                 string `mapstructure:"ca"`
	Cert               string `mapstructure:"cert"`
	Key                string `mapstructure:"key"`
	ServerName         string `mapstructure:"server_name"`
	InsecureSkipVerify bool   `mapstructure:"insecure_skip_verify"`
}

// Enabled reports whether any TLS setting was given.
func (t *TLS) Enabled() bool { return t != nil }

// JSONMapping maps field paths of a generic JSON payload (format: json) to the
// parts of a Read. Paths are dot-separated (e.g. "tag.epc").
type JSONMapping struct {
	EPC         string `mapstructure:"epc"`
	EPCEncoding string `mapstructure:"epc_encoding"` // hex (default) | base64
	Antenna     string `mapstructure:"antenna"`
	RSSI        string `mapstructure:"rssi"`
	RSSIUnit    string `mapstructure:"rssi_unit"` // dbm (default) | cdbm (centi-dBm)
	Time        string `mapstructure:"time"`
	TimeFormat  string `mapstructure:"time_format"` // rfc3339 (default) | unix_ms | unix_us | unix_s | a Go layout
	Reader      string `mapstructure:"reader"`
}

// Config is one entry of `readers:`. It holds the keys every type shares;
// Settings holds the type's own keys, decoded strictly by DecodeEntry into
// the struct the type registered, so a key that does not belong to the
// type is an error by construction.
type Config struct {
	ID       string
	Type     string
	Antennas []int    // optional filter, default all
	Provides []string // reader ids served, for the types that take `provides`

	// Settings is the type's own part (*llrp.Settings, *serial.Settings,
	// ...), holding its defaults where the entry is silent.
	Settings Settings
}

// ReaderIDs returns the reader ids whose reads this source produces: the
// configured `provides` list for a type that serves many readers (a file,
// an MQTT subscription with reader_from_topic), otherwise the reader's own
// id.
func (c *Config) ReaderIDs() []string {
	if len(c.Provides) > 0 {
		return c.Provides
	}
	return []string{c.ID}
}

// MaxAntenna is the highest antenna port a reader may have (LLRP's
// AntennaID is 16 bits; 0 means "all").
const MaxAntenna = 65535

// AntennaOK reports whether a is an antenna port: 1..MaxAntenna.
func AntennaOK(a int) bool { return a >= 1 && a <= MaxAntenna }

// WantsAntenna reports whether reads from antenna a are kept by the config's
// antenna filter.
func (c *Config) WantsAntenna(a int) bool {
	return len(c.Antennas) == 0 || slices.Contains(c.Antennas, a)
}
