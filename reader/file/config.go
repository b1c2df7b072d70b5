package file

import (
	"github.com/rfidgw/rfidgw/internal/keyed"
	"github.com/rfidgw/rfidgw/reader"
)

// Settings are the keys of a `readers:` entry of type file (besides
// `provides`: the reader ids the file's reads carry).
type Settings struct {
	Path  string  `mapstructure:"path"`  // a reads JSON-lines file
	Speed float64 `mapstructure:"speed"` // 1 = recorded pace (default), 0 = as fast as possible
	Loop  bool    `mapstructure:"loop"`  // play again from the start, times shifted on
}

func init() {
	reader.Register(reader.Type{
		Name:     reader.TypeFile,
		Settings: func() reader.Settings { return &Settings{Speed: 1} },
		Provides: true,
		Recorded: true,
		New: func(c reader.Config, env reader.Env) (reader.Source, error) {
			return New(c, env)
		},
		Fix: "check the path and that the file holds reads as JSON lines",
	})
}

// Validate checks the settings of entry c (keys relative to the entry).
func (s *Settings) Validate(*reader.Config) []error {
	var errs []error
	if s.Path == "" {
		errs = append(errs, keyed.Errorf("path", "required for a file reader (a reads JSON-lines file)"))
	}
	if s.Speed < 0 {
		errs = append(errs, keyed.Errorf("speed", "must be 0 (as fast as possible) or more"))
	}
	return errs
}
