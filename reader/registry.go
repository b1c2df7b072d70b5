package reader

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/rfidgw/rfidgw/internal/keyed"
)

// Settings is a reader type's own part of a `readers:` entry: a struct
// whose mapstructure tags are the type's keys. Validate reports every
// problem as a *keyed.Error whose key is relative to the entry (e.g.
// "address"); c is the whole entry (id, antennas, provides).
type Settings interface {
	Validate(c *Config) []error
}

// Env is what a source gets from the daemon besides its config entry.
type Env struct {
	GatewayID string       // names the gateway (an MQTT client id includes it)
	Log       *slog.Logger // nil means slog.Default()
	// Metrics receives the reader metrics (rfidgw_reads_total, ...); nil
	// means Discard (tests, `rfidgw check`).
	Metrics Metrics
}

// Meter returns e.Metrics, or Discard when it is nil.
func (e Env) Meter() Metrics {
	if e.Metrics == nil {
		return Discard
	}
	return e.Metrics
}

// Logger returns e.Log or slog.Default().
func (e Env) Logger() *slog.Logger {
	if e.Log == nil {
		return slog.Default()
	}
	return e.Log
}

// Type is one reader type as its package registers it: how to read its
// settings, how to build its Source and how `rfidgw check` probes it.
type Type struct {
	// Name is the value of `type:` ("llrp").
	Name string
	// Settings returns a new settings struct holding the type's defaults;
	// the entry's keys are decoded onto it.
	Settings func() Settings
	// Provides says whether the type takes `provides:` (a list of the
	// reader ids it serves besides its own).
	Provides bool
	// Recorded says the type plays recorded reads with their recorded
	// times (the file type): the daemon's clock follows the reads and the
	// reader counts as online while it plays.
	Recorded bool
	// New builds the Source of a validated entry; it does not connect.
	New func(c Config, env Env) (Source, error)
	// Check, when set, probes the reader for `rfidgw check` (it defaults to
	// New and the Source's Checker).
	Check func(ctx context.Context, c Config, env Env) (string, error)
	// Fix is what `rfidgw check` suggests when the probe fails.
	Fix string
}

// Probe runs the type's check probe.
func (t *Type) Probe(ctx context.Context, c Config, env Env) (string, error) {
	if t.Check != nil {
		return t.Check(ctx, c, env)
	}
	src, err := t.New(c, env)
	if err != nil {
		return "", err
	}
	ch, ok := src.(Checker)
	if !ok {
		return "configured (this reader type cannot be probed)", nil
	}
	return ch.Check(ctx)
}

var (
	regMu sync.RWMutex
	types = map[string]*Type{}
)

// Register adds a reader type. Protocol packages call it from init; a
// second type of the same name is a programming error and panics.
func Register(t Type) {
	if t.Name == "" || t.Settings == nil || t.New == nil {
		panic("reader.Register: a type needs Name, Settings and New")
	}
	regMu.Lock()
	defer regMu.Unlock()
	if _, dup := types[t.Name]; dup {
		panic("reader.Register: type " + t.Name + " registered twice")
	}
	types[t.Name] = &t
}

// Lookup returns the registered type name.
func Lookup(name string) (*Type, bool) {
	regMu.RLock()
	defer regMu.RUnlock()
	t, ok := types[name]
	return t, ok
}

// Types lists the registered type names, sorted.
func Types() []string {
	regMu.RLock()
	defer regMu.RUnlock()
	return slices.Sorted(maps.Keys(types))
}

// NewSource builds the Source of one entry through its type.
func NewSource(c Config, env Env) (Source, error) {
	t, ok := Lookup(c.Type)
	if !ok {
		return nil, fmt.Errorf("reader %q: type %q is not supported by this build", c.ID, c.Type)
	}
	return t.New(c, env)
}

// commonKeys are the keys of every entry (provides only where the type
// takes it).
type common struct {
	ID       string   `mapstructure:"id"`
	Type     string   `mapstructure:"type"`
	Antennas []int    `mapstructure:"antennas"`
	Provides []string `mapstructure:"provides"`
}

// DecodeEntry decodes one `readers:` entry (a map from YAML): the shared
// keys, then the rest strictly onto the type's settings with its defaults.
// Problems come back as *keyed.Error with keys relative to the entry, e.g.
// "baud: unknown key for type llrp". The Config is usable as far as it
// decoded, so validation can still list the other problems.
func DecodeEntry(entry map[string]any, dec keyed.Decoder) (Config, []error) {
	shared, rest := map[string]any{}, map[string]any{}
	for k, v := range entry {
		switch k {
		case "id", "type", "antennas", "provides":
			shared[k] = v
		default:
			rest[k] = v
		}
	}
	var cm common
	errs := dec.Decode(shared, &cm)
	c := Config{ID: cm.ID, Type: cm.Type, Antennas: cm.Antennas, Provides: cm.Provides}
	t, ok := Lookup(cm.Type)
	if !ok {
		return c, errs // Validate names the type problem
	}
	if _, set := shared["provides"]; set && !t.Provides {
		rest["provides"] = shared["provides"]
		c.Provides = nil
	}
	dec.Unknown = "unknown key for type " + t.Name
	c.Settings = t.Settings()
	return c, append(errs, dec.Decode(rest, c.Settings)...)
}

// Validate checks one entry: type, antennas and the type's own rules.
// Keys are relative to the entry. Rules that span entries (unique ids)
// are the caller's.
func (c *Config) Validate() []error {
	var errs []error
	t, ok := Lookup(c.Type)
	if !ok {
		return append(errs, keyed.Errorf("type", "%q is not one of %s", c.Type, strings.Join(Types(), ", ")))
	}
	for j, a := range c.Antennas {
		if !AntennaOK(a) {
			errs = append(errs, keyed.Errorf(fmt.Sprintf("antennas[%d]", j), "%d is not an antenna port (1..%d)", a, MaxAntenna))
		}
	}
	if c.Settings == nil {
		c.Settings = t.Settings()
	}
	// The type may check antennas more strictly; one line per key.
	common := map[string]bool{}
	for _, err := range errs {
		common[err.(*keyed.Error).Key] = true
	}
	for _, err := range c.Settings.Validate(c) {
		var ke *keyed.Error
		if errors.As(err, &ke) && common[ke.Key] {
			continue
		}
		errs = append(errs, err)
	}
	return errs
}

// Exclusive is implemented by settings holding a value that two entries
// must not share (an MQTT client id names one broker session): key is the
// entry key, value the value ("" for none), why the reason for the message.
type Exclusive interface {
	Exclusive(c *Config) (key, value, why string)
}

// IsRecorded reports whether the entry's type plays recorded reads.
func (c *Config) IsRecorded() bool {
	t, ok := Lookup(c.Type)
	return ok && t.Recorded
}
