package llrpsim

import (
	"context"
	"encoding/binary"
	"log/slog"
	"math/rand"

	"github.com/rfidgw/rfidgw/internal/keyed"
	"github.com/rfidgw/rfidgw/reader"
)

// Settings are the keys of a `rfidgw sim` scenario reader of kind llrp.
type Settings struct {
	Listen   string `mapstructure:"listen"`   // loopback host:port, e.g. 127.0.0.1:5084
	Antennas int    `mapstructure:"antennas"` // antenna count it reports (default 4)
}

func init() {
	reader.RegisterSim(reader.SimKind{
		Name:     reader.TypeLLRP,
		Settings: func() reader.SimSettings { return &Settings{} },
		Start:    start,
	})
}

// Validate checks the settings (keys relative to the scenario entry).
func (s *Settings) Validate() []error {
	if s.Listen == "" {
		return []error{keyed.Errorf("listen", "required for an llrp reader")}
	}
	return nil
}

func start(_ context.Context, _ string, set reader.SimSettings, log *slog.Logger) (reader.Emulator, string, error) {
	st := set.(*Settings)
	s := New(Options{Antennas: st.Antennas, ImpinjPeakRSSI: true, Logger: log})
	addr, err := s.Listen(st.Listen)
	if err != nil {
		return nil, "", err
	}
	return outage{s}, addr.String(), nil
}

// outage makes a simulated LLRP reader drop its client and refuse new
// ones while "offline", and put malformed reports on the line.
type outage struct{ *Simulator }

func (o outage) GoOffline()      { o.SetRefuse(true); o.DropConnections() }
func (o outage) GoOnline() error { o.SetRefuse(false); return nil }

// WriteGarbage sends a correctly framed RO_ACCESS_REPORT whose body is
// random bytes: the stream stays in sync, the content is malformed.
func (o outage) WriteGarbage(rng *rand.Rand) error {
	body := make([]byte, 4+rng.Intn(28))
	rng.Read(body)
	msg := make([]byte, 10, 10+len(body))
	binary.BigEndian.PutUint16(msg[0:], 1<<10|61) // version 1, RO_ACCESS_REPORT
	binary.BigEndian.PutUint32(msg[2:], uint32(10+len(body)))
	binary.BigEndian.PutUint32(msg[6:], rng.Uint32())
	return o.InjectRaw(append(msg, body...))
}
