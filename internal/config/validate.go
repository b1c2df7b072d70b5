package config

import (
	"fmt"
	"net"
	"regexp"
	"strings"
	"time"

	"github.com/rfidgw/rfidgw/buffer"
	"github.com/rfidgw/rfidgw/edge"
	"github.com/rfidgw/rfidgw/internal/epcis"
	"github.com/rfidgw/rfidgw/internal/keyed"
	"github.com/rfidgw/rfidgw/reader"
	"github.com/rfidgw/rfidgw/uplink"
)

// Scope says how much of the config a command needs.
type Scope int

// Scopes: replay needs gateway, readers, zones and edge; the daemon needs all.
const (
	ScopeEdge Scope = iota
	ScopeAll
)

// Validate checks the config and returns every problem found, or nil.
func (c *Config) Validate(scope Scope) error {
	p := &Problems{File: c.File}
	c.validateGateway(p)
	c.validateReaders(p)
	// Zones and edge settings are the engine's to judge (it names the key
	// path of every problem), so one set of rules serves check and run.
	if err := c.EdgeConfig().Validate(); err != nil {
		p.Add(err)
	}
	c.validateEPCIS(p)
	if scope == ScopeAll {
		c.validateRest(p)
	}
	if len(p.Items) == 0 {
		return nil
	}
	c.annotate(p)
	return p
}

func (c *Config) validateGateway(p *Problems) {
	switch {
	case c.Gateway.ID == "":
		p.add("gateway.id", "required (a short name of this gateway, e.g. floor3)")
	case !buffer.ValidGatewayID(c.Gateway.ID):
		p.add("gateway.id", "%q must match %s", c.Gateway.ID, buffer.GatewayIDPattern)
	}
	if c.Gateway.DataDir == "" {
		p.add("gateway.data_dir", "required (where the buffer lives, e.g. /var/lib/rfidgw)")
	}
}

// validateReaders checks the readers: what every entry shares here, the
// rest by the entry's type (reader.Config.Validate).
func (c *Config) validateReaders(p *Problems) {
	seen := map[string]int{}
	exclusive := map[string]int{} // type/key/value -> entry
	for i := range c.Readers {
		r := &c.Readers[i]
		k := fmt.Sprintf("readers[%d]", i)
		if r.ID == "" {
			p.add(k+".id", "required")
		} else if j, dup := seen[r.ID]; dup {
			p.add(k+".id", "%q is already used by readers[%d]", r.ID, j)
		} else {
			seen[r.ID] = i
		}
		p.Add(keyed.In(k, r.Validate())...)
		if ex, ok := r.Settings.(reader.Exclusive); ok {
			key, value, why := ex.Exclusive(r)
			if value == "" {
				continue
			}
			if j, dup := exclusive[r.Type+"/"+key+"/"+value]; dup {
				p.add(k+"."+key, "%q is already used by readers[%d]; %s", value, j, why)
			}
			exclusive[r.Type+"/"+key+"/"+value] = i
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
	return edge.Config{Zones: c.Zones, Settings: c.Edge, KnownReaders: known, Accept: c.Filter.Accept, Ignore: c.Filter.Ignore}
}

// validateEPCIS checks uplink.epcis and the zones' epcis URIs (also when
// no EPCIS topic is set: replay --format epcis uses them).
func (c *Config) validateEPCIS(p *Problems) {
	for i, z := range c.Zones {
		for _, kv := range [][2]string{{"read_point", z.EPCIS.ReadPoint}, {"biz_location", z.EPCIS.BizLocation}} {
			key, v := kv[0], kv[1]
			if v == "" {
				continue
			}
			if err := epcis.CheckLocationURI(v); err != nil {
				p.add(fmt.Sprintf("zones[%d].epcis.%s", i, key), "%v", err)
			}
		}
	}
	ec := c.EPCISConfig()
	ec.Zones = nil // reported above, with their index
	if _, err := epcis.NewEncoder(ec); err != nil {
		for _, item := range strings.Split(strings.TrimPrefix(err.Error(), epcis.ErrConfig.Error()+": "), "; ") {
			key, msg, _ := strings.Cut(item, ": ")
			p.add("uplink.epcis."+key, "%s", msg)
		}
	}
}

func (c *Config) validateRest(p *Problems) {
	if !buffer.ValidOnFull(c.Buffer.OnFull) {
		p.add("buffer.on_full", "%q is not %s or %s", c.Buffer.OnFull, buffer.DropOldest, buffer.RejectNew)
	}
	// Bounds: a buffer or recording larger than 1 TiB is a typo (a unit
	// too many); min_free_disk below 0 turns the disk check off.
	const maxFile = ByteSize(1 << 40)
	if c.Buffer.MaxBytes <= 0 || c.Buffer.MaxBytes > maxFile {
		p.add("buffer.max_bytes", "%d is outside 1..%d (1 TiB), e.g. 2GiB", c.Buffer.MaxBytes, maxFile)
	}
	if c.Buffer.MinFreeDisk > maxFile {
		p.add("buffer.min_free_disk", "%d is above %d (1 TiB)", c.Buffer.MinFreeDisk, maxFile)
	}
	if c.Record.MaxBytes < 0 || c.Record.MaxBytes > maxFile {
		p.add("record.max_bytes", "%d is outside 0..%d (1 TiB)", c.Record.MaxBytes, maxFile)
	}
	k := &c.Uplink.Kafka
	if len(k.Brokers) == 0 {
		p.add("uplink.kafka.brokers", "required (a list of host:port)")
	}
	for i, b := range k.Brokers {
		if _, _, err := net.SplitHostPort(b); err != nil {
			p.add(fmt.Sprintf("uplink.kafka.brokers[%d]", i), "%q is not host:port", b)
		}
	}
	if k.Topic == "" {
		p.add("uplink.kafka.topic", "required")
	}
	if k.EPCISTopic != "" && (k.EPCISTopic == k.Topic || k.EPCISTopic == k.StatusTopic) {
		p.add("uplink.kafka.epcis_topic", "%q is already the events or status topic; EPCIS needs its own", k.EPCISTopic)
	}
	if k.MaxInFlight < 1 || k.MaxInFlight > uplink.MaxMaxInFlight {
		p.add("uplink.kafka.max_in_flight", "%d is outside 1..%d (events handed to Kafka and not yet acknowledged): set e.g. 10000 (the default)", k.MaxInFlight, uplink.MaxMaxInFlight)
	}
	if k.Heartbeat < uplink.MinHeartbeat || k.Heartbeat > uplink.MaxHeartbeat {
		p.add("uplink.kafka.heartbeat", "%v is outside %v..%v (the gateway status period): set e.g. 30s (the default)", k.Heartbeat, uplink.MinHeartbeat, uplink.MaxHeartbeat)
	}
	if c.HTTP.Listen != "" {
		host, _, err := net.SplitHostPort(c.HTTP.Listen)
		if err != nil {
			p.add("http.listen", "%q is not host:port", c.HTTP.Listen)
		} else if !IsLoopback(host) && c.HTTP.TokenFile == "" {
			p.add("http.listen", "%q is not a loopback address; set http.token_file so only holders of the token see /metrics and the zone page", c.HTTP.Listen)
		}
	}
	c.validateRemote(p)
	switch c.Log.Format {
	case "auto", "text", "json":
	default:
		p.add("log.format", "%q is not auto, text or json", c.Log.Format)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		p.add("log.level", "%q is not debug, info, warn or error", c.Log.Level)
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

var topicRe = regexp.MustCompile(`^[a-zA-Z0-9._-]{1,249}$`)

// validateRemote checks remote_config (the key files themselves are read by
// the command that loads the config).
func (c *Config) validateRemote(p *Problems) {
	r := &c.RemoteConfig
	if !r.Enabled() {
		return
	}
	if !topicRe.MatchString(r.Topic) {
		p.add("remote_config.topic", "%q is not a Kafka topic name (a-z A-Z 0-9 . _ -, at most 249)", r.Topic)
	} else if r.Topic == c.Uplink.Kafka.Topic || r.Topic == c.Uplink.Kafka.StatusTopic {
		p.add("remote_config.topic", "%q is already the events or status topic", r.Topic)
	}
	for i, f := range r.PublicKeys {
		if strings.TrimSpace(f) == "" {
			p.add(fmt.Sprintf("remote_config.public_keys[%d]", i), "empty (a PEM file written by rfidgw config keygen, e.g. /etc/rfidgw/keys/config.pub)")
		}
	}
	if r.RollbackAfter < time.Second || r.RollbackAfter > time.Hour {
		p.add("remote_config.rollback_after", "%s is not between 1s and 1h", r.RollbackAfter)
	}
}
