package llrp

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/rfidgw/rfidgw/internal/keyed"
	"github.com/rfidgw/rfidgw/reader"
)

// Settings are the keys of a `readers:` entry of type llrp.
type Settings struct {
	Address   string        `mapstructure:"address"`   // host:port, 5084 (TLS 5085)
	TLS       *reader.TLS   `mapstructure:"tls"`       // LLRP over TLS when set
	Keepalive time.Duration `mapstructure:"keepalive"` // reader keepalive interval
	// ReportTags is how many tag reads the reader collects into one
	// RO_ACCESS_REPORT (ROReportTrigger 1, N): 1 (the default) sends
	// each read at once. More means fewer, larger reports (less work for
	// reader and gateway) but a read waits until N are collected, however
	// long that takes on a quiet reader: see README.md.
	ReportTags int `mapstructure:"report_tags"`
	// ReportEvery makes the reader send what it read every this long
	// (ROReportTrigger 5, N milliseconds: an LLRP 1.1 reader feature);
	// 0 (the default) reports by count (ReportTags). Excludes ReportTags > 1.
	ReportEvery time.Duration `mapstructure:"report_every"`
}

// Bounds of the report settings.
const (
	maxReportTags  = 65535 // N is a u16
	minReportEvery = 10 * time.Millisecond
	maxReportEvery = 10 * time.Second
)

func init() {
	reader.Register(reader.Type{
		Name:     reader.TypeLLRP,
		Settings: func() reader.Settings { return &Settings{Keepalive: DefaultKeepalive, ReportTags: 1} },
		New: func(c reader.Config, env reader.Env) (reader.Source, error) {
			return New(c, env)
		},
		Fix: "check the reader's address and port (5084, TLS 5085), that it is powered and no other client holds its LLRP connection",
	})
}

// Validate checks the settings of entry c (keys relative to the entry)
// with the rules New applies: one set of rules for both.
func (s *Settings) Validate(c *reader.Config) []error {
	where := fmt.Sprintf("reader %q", c.ID)
	var errs []error
	for _, err := range []error{s.checkAddress(where), s.checkKeepalive(where), s.checkReport(where)} {
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// checkAddress: host:port, or a host alone (the port is then LLRP's, 5085
// with TLS). The error names the reader (where) and carries its key.
func (s *Settings) checkAddress(where string) error {
	if s.Address == "" {
		return keyed.Tag(fmt.Errorf("%w: %s: address is required (host:port of the reader, e.g. 10.0.3.21:5084)", ErrConfig, where),
			"address", "required (host:port of the reader, e.g. 10.0.3.21:5084)")
	}
	host, port := s.hostPort()
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 || host == "" {
		return keyed.Tag(fmt.Errorf("%w: %s: address %q: want host:port with a port in 1..65535", ErrConfig, where, s.Address),
			"address", "%q: want host:port with a port in 1..65535", s.Address)
	}
	return nil
}

// hostPort splits the address; without a port it is LLRP's (5085 with TLS).
func (s *Settings) hostPort() (host, port string) {
	host, port, err := net.SplitHostPort(s.Address)
	if err != nil {
		host, port = s.Address, DefaultPort
		if s.TLS != nil {
			port = DefaultTLSPort
		}
	}
	return host, port
}

// checkKeepalive: 0 (the default) or 100ms .. 1h.
func (s *Settings) checkKeepalive(where string) error {
	switch {
	case s.Keepalive == 0:
	case s.Keepalive < minKeepalive:
		return keyed.Tag(fmt.Errorf("%w: %s: keepalive %v is below %v", ErrConfig, where, s.Keepalive, minKeepalive),
			"keepalive", "%v is below %v", s.Keepalive, minKeepalive)
	case s.Keepalive > time.Hour:
		return keyed.Tag(fmt.Errorf("%w: %s: keepalive %v is above 1h", ErrConfig, where, s.Keepalive),
			"keepalive", "%v is above 1h", s.Keepalive)
	}
	return nil
}

// checkReport: report_tags 1..65535 (0 counts as the default 1),
// report_every 0 or 10ms..10s, not both.
func (s *Settings) checkReport(where string) error {
	switch {
	case s.ReportTags < 0 || s.ReportTags > maxReportTags:
		return keyed.Tag(fmt.Errorf("%w: %s: report_tags %d: want 1..%d", ErrConfig, where, s.ReportTags, maxReportTags),
			"report_tags", "%d: want 1..%d", s.ReportTags, maxReportTags)
	case s.ReportEvery != 0 && (s.ReportEvery < minReportEvery || s.ReportEvery > maxReportEvery):
		return keyed.Tag(fmt.Errorf("%w: %s: report_every %v: want %v..%v (or 0: report by count)", ErrConfig, where, s.ReportEvery, minReportEvery, maxReportEvery),
			"report_every", "%v: want %v..%v (or 0: report by count)", s.ReportEvery, minReportEvery, maxReportEvery)
	case s.ReportEvery != 0 && s.ReportTags > 1:
		return keyed.Tag(fmt.Errorf("%w: %s: report_every and report_tags %d exclude each other: the reader reports either by time or by count", ErrConfig, where, s.ReportTags),
			"report_every", "excludes report_tags %d: the reader reports either by time or by count", s.ReportTags)
	}
	return nil
}

// reportSpec is the ROReportTrigger and N the settings ask for.
func (s *Settings) reportSpec() (trigger uint8, n uint16) {
	if s.ReportEvery > 0 {
		return ReportNMillisOrEndOfAI, uint16(s.ReportEvery / time.Millisecond)
	}
	return ReportNTagsOrEndOfAISpec, uint16(max(1, s.ReportTags))
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
