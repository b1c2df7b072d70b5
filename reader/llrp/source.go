package llrp

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/rfidgw/rfidgw/internal/backoff"
	"github.com/rfidgw/rfidgw/internal/keyed"
	"github.com/rfidgw/rfidgw/reader"
)

// Defaults of the LLRP source.
const (
	DefaultPort      = "5084" // LLRP over TCP (IANA)
	DefaultTLSPort   = "5085" // LLRP over TLS on Impinj readers
	DefaultKeepalive = 10 * time.Second
	minKeepalive     = 100 * time.Millisecond

	// rospecID is the one ROSpec the client owns on the reader.
	rospecID = 1
)

var (
	_ reader.Source  = (*Source)(nil)
	_ reader.Checker = (*Source)(nil)
)

// Source is one LLRP reader connection. It implements reader.Source and
// reader.Checker. Build it with New; it is safe to call Run once and Check
// any number of times (but not while Run holds the reader's only client
// slot).
type Source struct {
	m         reader.Metrics
	id        string
	addr      string
	tls       *tls.Config // nil for plain TCP
	antennas  []uint16    // ROSpec antennas; empty = all
	cfg       reader.Config
	keepalive time.Duration
	log       *slog.Logger

	reportTrigger uint8  // ROReportTrigger of the ROSpec
	reportN       uint16 // its N

	// Tunables; tests shorten them.
	minBackoff     time.Duration
	maxBackoff     time.Duration
	goodAfter      time.Duration // a connection up this long resets the backoff
	requestTimeout time.Duration
	dialTimeout    time.Duration
	now            func() time.Time

	clock          reader.Clock    // UTC timestamps to gateway time (reset per connection)
	connClock      time.Duration   // reader clock minus gateway at the last connection event
	connClockKnown bool            // the reader sent a UTC timestamp with it
	capsWarned     bool            // GET_READER_CAPABILITIES went unanswered once: warned
	antennaUp      map[uint16]bool // what the reader last reported per antenna (owned by the session goroutine)
	installed      bool            // the ROSpec was installed once in this run: reconnects verify it (resume)
}

// New builds the LLRP source of one `readers:` entry. It checks the config
// (address, antennas, keepalive, TLS files) and returns an error wrapping
// ErrConfig that names the key at fault; it does not connect. env gives the
// logger and the metrics (both may be zero).
func New(cfg reader.Config, env reader.Env) (*Source, error) {
	log := env.Logger()
	where := fmt.Sprintf("reader %q", cfg.ID)
	if cfg.ID == "" {
		return nil, fmt.Errorf("%w: reader without id", ErrConfig)
	}
	if cfg.Type != "" && cfg.Type != reader.TypeLLRP {
		return nil, fmt.Errorf("%w: %s: type %q is not llrp", ErrConfig, where, cfg.Type)
	}
	set, err := settingsOf(cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrConfig, where, err)
	}
	s := &Source{
		m:              env.Meter(),
		id:             cfg.ID,
		cfg:            cfg,
		keepalive:      set.Keepalive,
		log:            log.With("reader", cfg.ID, "source", "llrp"),
		minBackoff:     time.Second,
		maxBackoff:     30 * time.Second,
		goodAfter:      10 * time.Second,
		requestTimeout: 10 * time.Second,
		dialTimeout:    10 * time.Second,
		now:            time.Now,
		antennaUp:      map[uint16]bool{},
	}
	s.clock = reader.Clock{Reader: cfg.ID, Log: s.log, Offset: s.m.ClockOffset(cfg.ID)}
	if err := set.checkAddress(where); err != nil {
		return nil, err
	}
	host, port := set.hostPort()
	s.addr = net.JoinHostPort(host, port)
	for i, a := range cfg.Antennas {
		if !reader.AntennaOK(a) {
			return nil, keyed.Tag(fmt.Errorf("%w: %s: antennas[%d] = %d: antenna ids are 1..65535", ErrConfig, where, i, a), fmt.Sprintf("antennas[%d]", i), "%d: antenna ids are 1..65535", a)
		}
		s.antennas = append(s.antennas, uint16(a))
	}
	if err := set.checkKeepalive(where); err != nil {
		return nil, err
	}
	if s.keepalive == 0 {
		s.keepalive = DefaultKeepalive
	}
	if err := set.checkReport(where); err != nil {
		return nil, err
	}
	s.reportTrigger, s.reportN = set.reportSpec()
	if set.TLS != nil {
		tc, err := clientTLS(set.TLS, host)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrConfig, where, err)
		}
		s.tls = tc
	}
	return s, nil
}

// clientTLS builds the TLS client config from the file paths of cfg.
func clientTLS(t *reader.TLS, host string) (*tls.Config, error) {
	tc := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         t.ServerName,
		InsecureSkipVerify: t.InsecureSkipVerify, //nolint:gosec // an explicit, documented opt-in for readers with self-signed certificates
	}
	if tc.ServerName == "" {
		tc.ServerName = host
	}
	if t.CA != "" {
		pem, err := os.ReadFile(t.CA)
		if err != nil {
			return nil, keyed.Tag(fmt.Errorf("tls.ca: %w", err), "tls.ca", "%v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, keyed.Tag(fmt.Errorf("tls.ca %q: no PEM certificate found", t.CA), "tls.ca", "%q: no PEM certificate found", t.CA)
		}
		tc.RootCAs = pool
	}
	if (t.Cert == "") != (t.Key == "") {
		return nil, keyed.Tag(errors.New("tls.cert and tls.key must be given together"), "tls.cert", "tls.cert and tls.key must be given together")
	}
	if t.Cert != "" {
		pair, err := tls.LoadX509KeyPair(t.Cert, t.Key)
		if err != nil {
			return nil, keyed.Tag(fmt.Errorf("tls.cert/tls.key: %w", err), "tls.cert", "%v", err)
		}
		tc.Certificates = []tls.Certificate{pair}
	}
	return tc, nil
}

// Run connects to the reader and keeps its inventory running until ctx
// ends, under reader.Supervise: reconnects with exponential backoff and
// jitter (1 s .. 30 s, ±20 %), started over after a connection that was up
// for 10 s or delivered reads; every change of connection state is
// delivered as a reader.StatusRead ("offline" after the first failed
// attempt, so the edge engine knows from the start). It returns nil when
// ctx ends.
func (s *Source) Run(ctx context.Context, sink reader.Sink) error {
	sup := &reader.Supervisor{
		ID: s.id, Kind: "llrp", Sink: sink, Log: s.log.With("addr", s.addr),
		Backoff:   backoff.Backoff{Min: s.minBackoff, Max: s.maxBackoff, Jitter: backoff.DefaultJitter},
		GoodAfter: s.goodAfter,
		Now:       s.now,
		Metrics:   s.m,
	}
	return sup.Supervise(ctx, s.session)
}

// Check connects once, reads the reader's capabilities and describes it,
// e.g. "Impinj model 2001002 firmware 5.14.0.240 antennas 4". It fails with
// a clear error when the reader cannot be reached, refuses the connection
// (another client is connected) or does not answer.
func (s *Source) Check(ctx context.Context) (string, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.dialTimeout+2*s.requestTimeout)
		defer cancel()
	}
	c, err := s.connect(ctx)
	if err != nil {
		return "", err
	}
	defer c.close()
	caps, err := c.capabilities()
	if errors.Is(err, ErrResponseTimeout) {
		// The daemon uses such a reader with conservative defaults.
		c.closeConnection(false)
		return fmt.Sprintf("LLRP reader at %s (did not answer GET_READER_CAPABILITIES within %v; used with conservative defaults, antennas not checked)", s.addr, s.requestTimeout), nil
	}
	if err != nil {
		return "", err
	}
	var off []string
	if rsp, err := c.request(&GetReaderConfig{RequestedData: ConfigAntennaProperties}, MsgGetReaderConfigResponse); err == nil {
		for _, a := range rsp.(*GetReaderConfigResponse).Antennas {
			if !a.Connected && s.cfg.WantsAntenna(int(a.AntennaID)) {
				off = append(off, strconv.Itoa(int(a.AntennaID)))
			}
		}
	}
	c.closeConnection(false)
	g := caps.General
	desc := fmt.Sprintf("%s model %d firmware %s antennas %d", VendorName(g.Manufacturer), g.Model, g.Firmware, g.MaxAntennas)
	desc += "; " + clockText(s.connClock, s.connClockKnown)
	if len(off) > 0 {
		// Not an error: the gateway runs, and those zones count the antenna
		// like an offline reader; the technician should see it.
		desc += "; DISCONNECTED antennas: " + strings.Join(off, ", ")
	}
	if err := s.checkAntennas(g.MaxAntennas); err != nil {
		return desc, err
	}
	return desc, nil
}

// clockText describes a reader's clock for `rfidgw check`.
func clockText(off time.Duration, known bool) string {
	switch {
	case !known:
		return "clock: uptime only (reads anchored to the gateway clock)"
	case off > reader.MaxClockSkew || off < -reader.MaxClockSkew:
		return fmt.Sprintf("clock %+.1fs off the gateway (reads corrected; set up NTP on the reader)", off.Seconds())
	}
	return fmt.Sprintf("clock %+.3fs from the gateway", off.Seconds())
}

// checkAntennas fails when the config names an antenna the reader lacks:
// the reader would reject the ROSpec with a less helpful error.
func (s *Source) checkAntennas(max uint16) error {
	for i, a := range s.antennas {
		if max > 0 && a > max {
			return fmt.Errorf("%w: reader %q: antennas[%d] = %d but the reader has %d antennas", ErrConfig, s.id, i, a, max)
		}
	}
	return nil
}

// Addr is the reader address the source connects to.
func (s *Source) Addr() string { return s.addr }
