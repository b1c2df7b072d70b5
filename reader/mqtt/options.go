package mqtt

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"regexp"
	"strings"

	"github.com/rfidgw/rfidgw/internal/keyed"
	"github.com/rfidgw/rfidgw/reader"
)

// Option changes how New sets up a Source.
type Option func(*resolved)

// WithGatewayID makes the default MQTT client id "rfidgw-<gateway>-<reader
// id>", so two gateways with a reader of the same id do not take each
// other's session on a shared broker. The client id must stay the same
// across restarts: it names the persistent session the broker keeps.
func WithGatewayID(gatewayID string) Option {
	return func(s *resolved) { s.gatewayID = gatewayID }
}

// resolved is a reader.Config checked and turned into what a connection
// needs.
type resolved struct {
	id              string
	gatewayID       string
	broker          string // URL with a port
	brokerShown     string // as configured, for messages
	topic           string
	statusTopic     string
	qos             byte
	clientID        string
	username        string
	password        string
	tls             *tls.Config
	readerFromTopic int
	trustClock      bool     // reader_clock: trust
	provides        []string // reader ids announced before any read (reader_from_topic)
	parser          *Parser
	cfg             reader.Config
}

func resolve(cfg reader.Config, opts ...Option) (*resolved, error) {
	s, err := resolveSettings(cfg, opts...)
	if err != nil {
		var ke *keyed.Error
		if !errors.As(err, &ke) {
			err = tagKey(err)
		}
		return nil, err
	}
	return s, nil
}

// tagKey attaches the entry key an error names ("mqtt reader config:
// readers[r].broker: ...") as a *keyed.Error, so `rfidgw check` prints it
// as readers[i].broker.
func tagKey(err error) error {
	msg := err.Error()
	if i := strings.Index(msg, "]: "); strings.HasPrefix(msg, "readers[") && i > 0 {
		msg = msg[i+3:]
	}
	msg = strings.TrimPrefix(msg, ErrConfig.Error()+": ")
	if strings.HasPrefix(msg, "readers[") {
		if i := strings.Index(msg, "]."); i > 0 {
			msg = msg[i+2:]
		}
	}
	m := keyRe.FindStringSubmatch(msg)
	if m == nil {
		return err
	}
	return keyed.Tag(err, m[1], "%s", m[2])
}

var keyRe = regexp.MustCompile(`^([a-z_]+(?:\.[a-z_]+)*): (.*)$`)

func resolveSettings(cfg reader.Config, opts ...Option) (*resolved, error) {
	s := &resolved{id: cfg.ID, cfg: cfg}
	for _, o := range opts {
		o(s)
	}
	where := func(key string) string { return fmt.Sprintf("readers[%s].%s", cfg.ID, key) }
	if cfg.ID == "" {
		return nil, fmt.Errorf("%w: id: missing", ErrConfig)
	}
	if cfg.Type != "" && cfg.Type != reader.TypeMQTT {
		return nil, fmt.Errorf("%w: %s: %q is not mqtt", ErrConfig, where("type"), cfg.Type)
	}
	set, err := settingsOf(cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrConfig, where("type"), err)
	}

	if errs := set.problems(&cfg); len(errs) > 0 {
		return nil, errs[0]
	}
	if s.broker, s.tls, err = parseBroker(where("broker"), set.Broker, set.TLS); err != nil {
		return nil, err // a TLS file
	}
	s.brokerShown = set.Broker
	s.trustClock = set.ReaderClock == "trust"
	s.topic, s.statusTopic = set.Topic, set.StatusTopic
	s.qos = 1
	if set.QoS != nil {
		s.qos = byte(*set.QoS)
	}
	if set.ReaderFromTopic != 0 {
		s.readerFromTopic = set.ReaderFromTopic
		s.provides = cfg.Provides
	}

	s.clientID = set.ClientID
	if s.clientID == "" {
		s.clientID = "rfidgw-" + cfg.ID
		if s.gatewayID != "" {
			s.clientID = "rfidgw-" + s.gatewayID + "-" + cfg.ID
		}
	}
	s.username = set.Username
	if set.PasswordFile != "" {
		b, err := os.ReadFile(set.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrConfig, where("password_file"), err)
		}
		s.password = strings.TrimRight(string(b), "\r\n")
	}

	if s.parser, err = NewParser(set.Format, set.Mapping); err != nil {
		return nil, fmt.Errorf("readers[%s]: %w", cfg.ID, err)
	}
	return s, nil
}

// problems lists every problem of entry c that needs no file or network:
// the one set of rules for config validation (Validate) and New. Each
// error reads as New reports it and carries its key (keyed).
func (set *Settings) problems(c *reader.Config) []error {
	where := func(key string) string { return fmt.Sprintf("readers[%s].%s", c.ID, key) }
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, tagKey(err))
		}
	}
	_, _, err := brokerURL(where("broker"), set.Broker, set.TLS)
	add(err)
	add(validFilter(where("topic"), set.Topic))
	if set.StatusTopic != "" {
		if err := validFilter(where("status_topic"), set.StatusTopic); err != nil {
			add(err)
		} else if set.StatusTopic == set.Topic {
			add(fmt.Errorf("%w: %s: same as topic; the reader's status messages need their own topic", ErrConfig, where("status_topic")))
		}
	}
	if set.ReaderClock != "" && set.ReaderClock != "correct" && set.ReaderClock != "trust" {
		add(fmt.Errorf("%w: %s: %q: want correct (the default) or trust", ErrConfig, where("reader_clock"), set.ReaderClock))
	}
	if set.QoS != nil && (*set.QoS < 0 || *set.QoS > 2) {
		add(fmt.Errorf("%w: %s: %d: want 0, 1 or 2", ErrConfig, where("qos"), *set.QoS))
	}
	if n := set.ReaderFromTopic; n != 0 {
		levels := strings.Split(set.Topic, "/")
		switch {
		case n < 0:
			add(fmt.Errorf("%w: %s: %d: want a 1-based topic level", ErrConfig, where("reader_from_topic"), n))
		case n > len(levels) && levels[len(levels)-1] != "#":
			add(fmt.Errorf("%w: %s: %d: topic %q has only %d levels", ErrConfig, where("reader_from_topic"), n, set.Topic, len(levels)))
		case n <= len(levels) && levels[n-1] == "#":
			// fine: '#' covers that level
		case n <= len(levels) && levels[n-1] != "+":
			add(fmt.Errorf("%w: %s: level %d of topic %q is the fixed %q; point it at a '+' level, e.g. rfid/+/events with 2",
				ErrConfig, where("reader_from_topic"), n, set.Topic, levels[n-1]))
		}
	} else if len(c.Provides) > 0 {
		add(fmt.Errorf("%w: %s: only used with reader_from_topic", ErrConfig, where("provides")))
	}
	if set.PasswordFile != "" && set.Username == "" {
		add(fmt.Errorf("%w: %s: a password needs a username (MQTT 3.1.1)", ErrConfig, where("username")))
	}
	if _, err := NewParser(set.Format, set.Mapping); err != nil {
		add(fmt.Errorf("readers[%s]: %w", c.ID, err))
	}
	return errs
}

// brokerURL checks a broker URL and adds the scheme's default port; secure
// says whether the scheme is TLS (ssl://, wss://).
func brokerURL(key, raw string, t *reader.TLS) (u *url.URL, secure bool, err error) {
	u, err = url.Parse(raw)
	if raw == "" || err != nil || u.Host == "" {
		return nil, false, fmt.Errorf("%w: %s: %q: want a URL like tcp://host:1883, ssl://host:8883 or ws://host:8080/mqtt", ErrConfig, key, raw)
	}
	defPort := ""
	switch strings.ToLower(u.Scheme) {
	case "tcp", "mqtt":
		defPort = "1883"
	case "ssl", "tls", "mqtts", "tcps":
		defPort, secure = "8883", true
	case "ws":
		defPort = "80"
	case "wss":
		defPort, secure = "443", true
	default:
		return nil, false, fmt.Errorf("%w: %s: scheme %q: want tcp://, ssl://, ws:// or wss://", ErrConfig, key, u.Scheme)
	}
	if u.Port() == "" {
		u.Host = net.JoinHostPort(u.Hostname(), defPort)
	}
	if t != nil && !secure {
		return nil, false, fmt.Errorf("%w: %s: tls is set but broker %q is not TLS; use ssl:// (or wss://)", ErrConfig, key, raw)
	}
	return u, secure, nil
}

// parseBroker checks a broker URL, adds the scheme's default port and
// loads the TLS settings for ssl:// and wss://.
func parseBroker(key, raw string, t *reader.TLS) (string, *tls.Config, error) {
	u, secure, err := brokerURL(key, raw, t)
	if err != nil {
		return "", nil, err
	}
	var tc *tls.Config
	if secure {
		if tc, err = loadTLS(t, u.Hostname()); err != nil {
			return "", nil, fmt.Errorf("%w: %s: tls: %w", ErrConfig, key, err)
		}
	}
	return u.String(), tc, nil
}

// loadTLS builds a client TLS config: the CA file (else the system roots),
// an optional client certificate, server name and skip-verify.
func loadTLS(t *reader.TLS, host string) (*tls.Config, error) {
	c := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: host}
	if t == nil {
		return c, nil
	}
	if t.ServerName != "" {
		c.ServerName = t.ServerName
	}
	c.InsecureSkipVerify = t.InsecureSkipVerify
	if t.CA != "" {
		pem, err := os.ReadFile(t.CA)
		if err != nil {
			return nil, fmt.Errorf("ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca: %s holds no PEM certificate", t.CA)
		}
		c.RootCAs = pool
	}
	switch {
	case t.Cert != "" && t.Key != "":
		pair, err := tls.LoadX509KeyPair(t.Cert, t.Key)
		if err != nil {
			return nil, fmt.Errorf("cert/key: %w", err)
		}
		c.Certificates = []tls.Certificate{pair}
	case t.Cert != "" || t.Key != "":
		return nil, errors.New("cert and key: give both or neither")
	}
	return c, nil
}
