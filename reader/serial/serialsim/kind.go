package serialsim

import (
	"context"
	"log/slog"
	"math/rand"
	"os"
	"path/filepath"

	"github.com/rfidgw/rfidgw/internal/keyed"
	"github.com/rfidgw/rfidgw/reader"
)

// Settings are the keys of a `rfidgw sim` scenario reader of kind serial.
type Settings struct {
	Protocol string `mapstructure:"protocol"` // thingmagic | r2000 | ascii
	Link     string `mapstructure:"link"`     // symlink to create to the pty (like /dev/serial/by-id/...)
}

func init() {
	reader.RegisterSim(reader.SimKind{
		Name:     reader.TypeSerial,
		Settings: func() reader.SimSettings { return &Settings{} },
		Start:    start,
	})
}

// Validate checks the settings (keys relative to the scenario entry).
func (s *Settings) Validate() []error {
	if s.Protocol == "" {
		return []error{keyed.Errorf("protocol", "required (thingmagic, r2000, ascii)")}
	}
	return nil
}

func start(_ context.Context, _ string, set reader.SimSettings, log *slog.Logger) (reader.Emulator, string, error) {
	st := set.(*Settings)
	s, err := New(st.Protocol, log)
	if err != nil {
		return nil, "", err
	}
	where := s.Path()
	if st.Link != "" {
		if err := os.MkdirAll(filepath.Dir(st.Link), 0o755); err != nil {
			s.Close()
			return nil, "", err
		}
		if err := s.Link(st.Link); err != nil {
			s.Close()
			return nil, "", err
		}
		where = st.Link + " -> " + where
	}
	return outage{s}, where, nil
}

// outage unplugs and replugs a simulated serial module.
type outage struct{ *Simulator }

func (o outage) GoOffline()      { o.Unplug() }
func (o outage) GoOnline() error { return o.Replug() }

// WriteGarbage puts random bytes on the line between frames.
func (o outage) WriteGarbage(rng *rand.Rand) error {
	b := make([]byte, 1+rng.Intn(16))
	rng.Read(b)
	return o.WriteRaw(b)
}
