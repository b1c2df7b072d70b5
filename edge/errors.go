package edge

import "errors"

// Sentinel errors of the edge package.
var (
	// ErrBadConfig is wrapped by every problem New, Reconfigure and
	// Config.Validate report about zones or settings.
	ErrBadConfig = errors.New("bad edge config")

	// ErrRecorderClosed is returned by Recorder.Write after Close.
	ErrRecorderClosed = errors.New("recorder closed")
)

// ConfigError is one problem with the edge configuration: Path is the key
// path in the config file (e.g. "zones[3].outside[0].reader"), Msg what is
// wrong and, where it helps, how to fix it.
type ConfigError struct {
	Path string
	Msg  string
}

func (e *ConfigError) Error() string { return e.Path + ": " + e.Msg }

// Unwrap makes errors.Is(err, ErrBadConfig) true.
func (e *ConfigError) Unwrap() error { return ErrBadConfig }
