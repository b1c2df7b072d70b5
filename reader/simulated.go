package reader

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"

	"github.com/rfidgw/rfidgw/internal/keyed"
)

// SimSettings is a simulated reader kind's own part of a scenario's
// `readers:` entry (see Settings); Validate reports problems with keys
// relative to the entry.
type SimSettings interface {
	Validate() []error
}

// SimKind is a simulated reader of `rfidgw sim` as its package (llrpsim,
// serialsim, mqttsim) registers it.
type SimKind struct {
	// Name is the scenario's `kind:` ("llrp").
	Name string
	// Settings returns a new settings struct holding the kind's defaults.
	Settings func() SimSettings
	// Start starts simulated reader id on a real transport and says where
	// a gateway finds it (an address, a device path, a broker and topic).
	// The Emulator may also implement GoOffline/GoOnline (outages) and
	// WriteGarbage (malformed input), see internal/sim.
	Start func(ctx context.Context, id string, s SimSettings, log *slog.Logger) (Emulator, string, error)
}

var simKinds = map[string]*SimKind{}

// RegisterSim adds a simulated reader kind; sim packages call it from
// init. A second kind of the same name panics.
func RegisterSim(k SimKind) {
	if k.Name == "" || k.Settings == nil || k.Start == nil {
		panic("reader.RegisterSim: a kind needs Name, Settings and Start")
	}
	regMu.Lock()
	defer regMu.Unlock()
	if _, dup := simKinds[k.Name]; dup {
		panic("reader.RegisterSim: kind " + k.Name + " registered twice")
	}
	simKinds[k.Name] = &k
}

// LookupSim returns the registered simulated reader kind name.
func LookupSim(name string) (*SimKind, bool) {
	regMu.RLock()
	defer regMu.RUnlock()
	k, ok := simKinds[name]
	return k, ok
}

// SimKinds lists the registered simulated reader kinds, sorted.
func SimKinds() []string {
	regMu.RLock()
	defer regMu.RUnlock()
	return slices.Sorted(maps.Keys(simKinds))
}

// SimEntry is one decoded scenario reader.
type SimEntry struct {
	ID       string
	Kind     string
	Settings SimSettings // nil when the kind is unknown
}

// DecodeSimEntry decodes one scenario `readers:` entry: id and kind, then
// the rest strictly onto the kind's settings, and validates it. Problems
// have keys relative to the entry.
func DecodeSimEntry(entry map[string]any, dec keyed.Decoder) (SimEntry, []error) {
	var head struct {
		ID   string `mapstructure:"id"`
		Kind string `mapstructure:"kind"`
	}
	shared, rest := map[string]any{}, map[string]any{}
	for k, v := range entry {
		if k == "id" || k == "kind" {
			shared[k] = v
		} else {
			rest[k] = v
		}
	}
	errs := dec.Decode(shared, &head)
	e := SimEntry{ID: head.ID, Kind: head.Kind}
	if e.ID == "" {
		errs = append(errs, keyed.Errorf("id", "required"))
	}
	k, ok := LookupSim(head.Kind)
	if !ok {
		return e, append(errs, keyed.Errorf("kind", "%q is not one of %s", head.Kind, joinNames(SimKinds())))
	}
	dec.Unknown = "unknown key for kind " + k.Name
	e.Settings = k.Settings()
	if derrs := dec.Decode(rest, e.Settings); len(derrs) > 0 {
		return e, append(errs, derrs...)
	}
	return e, append(errs, e.Settings.Validate()...)
}

// StartSim starts the simulated reader of e.
func StartSim(ctx context.Context, e SimEntry, log *slog.Logger) (Emulator, string, error) {
	k, ok := LookupSim(e.Kind)
	if !ok {
		return nil, "", fmt.Errorf("kind %q is not one of %s", e.Kind, joinNames(SimKinds()))
	}
	return k.Start(ctx, e.ID, e.Settings, log)
}

func joinNames(names []string) string {
	switch len(names) {
	case 0:
		return "(none registered)"
	case 1:
		return names[0]
	}
	return fmt.Sprintf("%s or %s", strings.Join(names[:len(names)-1], ", "), names[len(names)-1])
}
