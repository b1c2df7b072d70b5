package config

import (
	"fmt"
	"net"
	"regexp"
	"strings"
	"time"

	"github.com/rfidgw/rfidgw/edge"
	"github.com/rfidgw/rfidgw/reader"
)

// Scope says how much of the config a command needs.
type Scope int

// Scopes: replay needs gateway, readers, zones and edge; the daemon needs all.
const (
	ScopeEdge Scope = iota
	ScopeAll
)

var gatewayIDRe = regexp.MustCompile(`^[a-z0-9._-]{1,64}$`)

// Validate checks the config and returns every problem found, or nil.
func (c *Config) Validate(scope Scope) error {
	p := &Problems{File: c.File}
	c.validateGateway(p)
	c.validateReaders(p)
	// Zones and edge settings are the engine's to judge (it names the key
	// path of every problem), so one set of rules serves check and run.
	if err := c.EdgeConfig().Validate(); err != nil {
		p.Items = append(p.Items, errorLines(err)...)
	}
	if scope == ScopeAll {
		c.validateRest(p)
	}
	if len(p.Items) == 0 {
		return nil
	}
	return p
}

func (c *Config) validateGateway(p *Problems) {
	switch {
	case c.Gateway.ID == "":
		p.add("gateway.id: required (a short name of this gateway, e.g. floor3)")
	case !gatewayIDRe.MatchString(c.Gateway.ID):
		p.add("gateway.id: %q must match [a-z0-9._-]{1,64}", c.Gateway.ID)
	}
	if c.Gateway.DataDir == "" {
		p.add("gateway.data_dir: required (where the buffer lives, e.g. /var/lib/rfidgw)")
	}
}

// allowedReaderKeys lists, per reader type, the keys beyond id/type/antennas.
var allowedReaderKeys = map[string][]string{
	reader.TypeLLRP:   {"address", "tls", "keepalive"},
	reader.TypeSerial: {"device", "protocol", "baud", "region", "pattern"},
	reader.TypeMQTT:   {"broker", "topic", "format", "client_id", "username", "password_file", "qos", "tls", "reader_from_topic", "status_topic", "mapping", "provides"},
	reader.TypeFile:   {"path", "provides", "speed", "loop"},
}

// setReaderKeys lists the type-specific keys a reader entry sets.
func setReaderKeys(r *reader.Config) []string {
	var keys []string
	add := func(set bool, k string) {
		if set {
			keys = append(keys, k)
		}
	}
	add(r.Address != "", "address")
	add(r.TLS != nil, "tls")
	add(r.Device != "", "device")
	add(r.Protocol != "", "protocol")
	add(r.Region != "", "region")
	add(r.Pattern != "", "pattern")
	add(r.Broker != "", "broker")
	add(r.Topic != "", "topic")
	add(r.Format != "", "format")
	add(r.ClientID != "", "client_id")
	add(r.Username != "", "username")
	add(r.PasswordFile != "", "password_file")
	add(r.ReaderFromTopic != 0, "reader_from_topic")
	add(r.StatusTopic != "", "status_topic")
	add(r.Mapping != nil, "mapping")
	add(r.Path != "", "path")
	add(len(r.Provides) > 0, "provides")
	add(r.Loop, "loop")
	return keys
}

// validateReaders checks the readers.
func (c *Config) validateReaders(p *Problems) {
	seen := map[string]int{}
	clientIDs := map[string]int{}
	for i := range c.Readers {
		r := &c.Readers[i]
		k := fmt.Sprintf("readers[%d]", i)
		if r.ID == "" {
			p.add("%s.id: required", k)
		} else if j, dup := seen[r.ID]; dup {
			p.add("%s.id: %q is already used by readers[%d]", k, r.ID, j)
		} else {
			seen[r.ID] = i
		}
		allowed, ok := allowedReaderKeys[r.Type]
		if !ok {
			p.add("%s.type: %q is not one of llrp, serial, mqtt, file", k, r.Type)
			continue
		}
		for _, key := range setReaderKeys(r) {
			if !contains(allowed, key) {
				p.add("%s.%s: not a key of a %s reader", k, key, r.Type)
			}
		}
		for j, a := range r.Antennas {
			if a < 1 || a > 65535 {
				p.add("%s.antennas[%d]: %d is not an antenna port (1..65535)", k, j, a)
			}
		}
		switch r.Type {
		case reader.TypeLLRP:
			if r.Address == "" {
				p.add("%s.address: required for an llrp reader (host:port, port 5084 or 5085 for TLS)", k)
			} else if _, _, err := net.SplitHostPort(r.Address); err != nil {
				p.add("%s.address: %q is not host:port", k, r.Address)
			}
			if r.Keepalive < 0 {
				p.add("%s.keepalive: must not be negative", k)
			}
		case reader.TypeSerial:
			if r.Device == "" {
				p.add("%s.device: required for a serial reader (e.g. /dev/serial/by-id/...)", k)
			}
			switch r.Protocol {
			case "thingmagic", "r2000", "ascii":
			case "":
				p.add("%s.protocol: required (thingmagic, r2000 or ascii)", k)
			default:
				p.add("%s.protocol: %q is not one of thingmagic, r2000, ascii", k, r.Protocol)
			}
			if r.Pattern != "" {
				if _, err := regexp.Compile(r.Pattern); err != nil {
					p.add("%s.pattern: %v", k, err)
				}
			}
		case reader.TypeMQTT:
			if r.Broker == "" {
				p.add("%s.broker: required for an mqtt reader (tcp://host:1883, ssl://host:8883 or ws://)", k)
			} else if !strings.HasPrefix(r.Broker, "tcp://") && !strings.HasPrefix(r.Broker, "ssl://") &&
				!strings.HasPrefix(r.Broker, "tls://") && !strings.HasPrefix(r.Broker, "ws://") && !strings.HasPrefix(r.Broker, "wss://") {
				p.add("%s.broker: %q must start with tcp://, ssl://, ws:// or wss://", k, r.Broker)
			}
			if r.Topic == "" {
				p.add("%s.topic: required for an mqtt reader", k)
			}
			switch r.Format {
			case "impinj", "zebra":
			case "json":
				if r.Mapping == nil || r.Mapping.EPC == "" {
					p.add("%s.mapping.epc: required with format json (the field path of the EPC)", k)
				}
			case "":
				p.add("%s.format: required (impinj, zebra or json)", k)
			default:
				p.add("%s.format: %q is not one of impinj, zebra, json", k, r.Format)
			}
			if r.ClientID != "" {
				if j, dup := clientIDs[r.ClientID]; dup {
					p.add("%s.client_id: %q is already used by readers[%d]; each MQTT reader needs its own broker session", k, r.ClientID, j)
				}
				clientIDs[r.ClientID] = i
			}
			if r.QoS != nil && (*r.QoS < 0 || *r.QoS > 2) {
				p.add("%s.qos: %d is not 0, 1 or 2", k, *r.QoS)
			}
		case reader.TypeFile:
			if r.Path == "" {
				p.add("%s.path: required for a file reader (a reads JSON-lines file)", k)
			}
			if r.Speed < 0 {
				p.add("%s.speed: must be 0 (as fast as possible) or more", k)
			}
		}
	}
}

// EdgeConfig is the engine's part of the config: zones, settings and the
// reader ids zones may name (including those a file or MQTT reader provides).
func (c *Config) EdgeConfig() edge.Config {
	known := []string{}
	for _, r := range c.Readers {
		known = append(known, r.ReaderIDs()...)
	}
	return edge.Config{Zones: c.Zones, Settings: c.Edge, KnownReaders: known}
}

// errorLines flattens joined errors into one problem per line.
func errorLines(err error) []string {
	var out []string
	for _, line := range strings.Split(err.Error(), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			out = append(out, line)
		}
	}
	return out
}

func (c *Config) validateRest(p *Problems) {
	switch c.Buffer.OnFull {
	case "drop_oldest", "reject_new":
	default:
		p.add("buffer.on_full: %q is not drop_oldest or reject_new", c.Buffer.OnFull)
	}
	if c.Buffer.MaxBytes <= 0 {
		p.add("buffer.max_bytes: must be positive, e.g. 2GiB")
	}
	k := &c.Uplink.Kafka
	if len(k.Brokers) == 0 {
		p.add("uplink.kafka.brokers: required (a list of host:port)")
	}
	for i, b := range k.Brokers {
		if _, _, err := net.SplitHostPort(b); err != nil {
			p.add("uplink.kafka.brokers[%d]: %q is not host:port", i, b)
		}
	}
	if k.Topic == "" {
		p.add("uplink.kafka.topic: required")
	}
	if k.MaxInFlight < 1 {
		p.add("uplink.kafka.max_in_flight: must be at least 1")
	}
	if c.HTTP.Listen != "" {
		host, _, err := net.SplitHostPort(c.HTTP.Listen)
		if err != nil {
			p.add("http.listen: %q is not host:port", c.HTTP.Listen)
		} else if !IsLoopback(host) && c.HTTP.TokenFile == "" {
			p.add("http.listen: %q is not a loopback address; set http.token_file so only holders of the token see /metrics and the zone page", c.HTTP.Listen)
		}
	}
	c.validateRemote(p)
	switch c.Log.Format {
	case "auto", "text", "json":
	default:
		p.add("log.format: %q is not auto, text or json", c.Log.Format)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		p.add("log.level: %q is not debug, info, warn or error", c.Log.Level)
	}
}

// IsLoopback reports whether host names a loopback address.
func IsLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

var topicRe = regexp.MustCompile(`^[a-zA-Z0-9._-]{1,249}$`)

// validateRemote checks remote_config (the key files themselves are read by
// the command that loads the config).
func (c *Config) validateRemote(p *Problems) {
	r := &c.RemoteConfig
	if !r.Enabled() {
		return
	}
	if !topicRe.MatchString(r.Topic) {
		p.add("remote_config.topic: %q is not a Kafka topic name (a-z A-Z 0-9 . _ -, at most 249)", r.Topic)
	} else if r.Topic == c.Uplink.Kafka.Topic || r.Topic == c.Uplink.Kafka.StatusTopic {
		p.add("remote_config.topic: %q is already the events or status topic", r.Topic)
	}
	for i, f := range r.PublicKeys {
		if strings.TrimSpace(f) == "" {
			p.add("remote_config.public_keys[%d]: empty (a PEM file written by rfidgw config keygen, e.g. /etc/rfidgw/keys/config.pub)", i)
		}
	}
	if r.RollbackAfter < time.Second || r.RollbackAfter > time.Hour {
		p.add("remote_config.rollback_after: %s is not between 1s and 1h", r.RollbackAfter)
	}
}
