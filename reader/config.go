package reader

import "time"

// Reader types.
const (
	TypeLLRP   = "llrp"
	TypeSerial = "serial"
	TypeMQTT   = "mqtt"
	TypeFile   = "file"
)

// TLS holds file paths for a TLS client (LLRP over TLS, MQTT ssl://).
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

// Config is one entry of `readers:` (contract §4). It is flat: each type uses
// its own keys and validation rejects keys that do not belong to the type.
type Config struct {
	ID       string `mapstructure:"id"`
	Type     string `mapstructure:"type"`
	Antennas []int  `mapstructure:"antennas"` // optional filter, default all

	// llrp
	Address   string        `mapstructure:"address"`
	TLS       *TLS          `mapstructure:"tls"`
	Keepalive time.Duration `mapstructure:"keepalive"`

	// serial
	Device   string `mapstructure:"device"`
	Protocol string `mapstructure:"protocol"` // thingmagic | r2000 | ascii
	Baud     int    `mapstructure:"baud"`
	Region   string `mapstructure:"region"`  // thingmagic: optional region to set (e.g. "EU3", "NA2")
	Pattern  string `mapstructure:"pattern"` // ascii: regexp with named groups epc, antenna, rssi

	// mqtt
	Broker          string       `mapstructure:"broker"`
	Topic           string       `mapstructure:"topic"`
	Format          string       `mapstructure:"format"` // impinj | zebra | json
	ClientID        string       `mapstructure:"client_id"`
	Username        string       `mapstructure:"username"`
	PasswordFile    string       `mapstructure:"password_file"`
	QoS             *int         `mapstructure:"qos"`
	ReaderFromTopic int          `mapstructure:"reader_from_topic"` // 1-based topic segment holding the reader id
	StatusTopic     string       `mapstructure:"status_topic"`
	Mapping         *JSONMapping `mapstructure:"mapping"`

	// file
	Path     string   `mapstructure:"path"`
	Provides []string `mapstructure:"provides"`
	Speed    float64  `mapstructure:"speed"`
	Loop     bool     `mapstructure:"loop"`
}

// ReaderIDs returns the reader ids whose reads this source produces: the
// configured `provides` list for a file reader or an MQTT subscription that
// serves many readers (reader_from_topic), otherwise the reader's own id.
func (c *Config) ReaderIDs() []string {
	if (c.Type == TypeFile || c.Type == TypeMQTT) && len(c.Provides) > 0 {
		return c.Provides
	}
	return []string{c.ID}
}

// WantsAntenna reports whether reads from antenna a are kept by the config's
// antenna filter.
func (c *Config) WantsAntenna(a int) bool {
	if len(c.Antennas) == 0 {
		return true
	}
	for _, x := range c.Antennas {
		if x == a {
			return true
		}
	}
	return false
}
