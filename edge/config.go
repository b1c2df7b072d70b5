package edge

import (
	"log/slog"
	"time"
)

// Zone kinds.
const (
	KindGate = "gate"
	KindRack = "rack"
)

// Settings are the edge knobs (`edge:` in docs/config.md). Names follow the
// EPCglobal ALE smoothing vocabulary where one exists.
type Settings struct {
	MinRSSI        float64       `mapstructure:"min_rssi"`        // dBm; weaker reads are ignored
	MinReads       int           `mapstructure:"min_reads"`       // reads within PresenceWindow before a tag is present
	PresenceWindow time.Duration `mapstructure:"presence_window"` // sliding window for MinReads and RSSI smoothing
	Dwell          time.Duration `mapstructure:"dwell"`           // a rack move is confirmed after this long
	HysteresisDB   float64       `mapstructure:"hysteresis_db"`   // a new rack must beat the current one by this much
	LostAfter      time.Duration `mapstructure:"lost_after"`      // silence after which a tag has left a rack
	GateWindow     time.Duration `mapstructure:"gate_window"`     // both sides of a gate within this window
}

// DefaultSettings are the defaults of `edge:` (docs/config.md, docs/zones.md).
func DefaultSettings() Settings {
	return Settings{
		MinRSSI:        -75,
		MinReads:       2,
		PresenceWindow: 3 * time.Second,
		Dwell:          5 * time.Second,
		HysteresisDB:   6,
		LostAfter:      60 * time.Second,
		GateWindow:     10 * time.Second,
	}
}

// Overrides are per-zone replacements for Settings; nil means "use edge:".
type Overrides struct {
	MinRSSI        *float64       `mapstructure:"min_rssi"`
	MinReads       *int           `mapstructure:"min_reads"`
	PresenceWindow *time.Duration `mapstructure:"presence_window"`
	Dwell          *time.Duration `mapstructure:"dwell"`
	HysteresisDB   *float64       `mapstructure:"hysteresis_db"`
	LostAfter      *time.Duration `mapstructure:"lost_after"`
	GateWindow     *time.Duration `mapstructure:"gate_window"`
}

// Apply returns s with the non-nil overrides applied.
func (o *Overrides) Apply(s Settings) Settings {
	if o.MinRSSI != nil {
		s.MinRSSI = *o.MinRSSI
	}
	if o.MinReads != nil {
		s.MinReads = *o.MinReads
	}
	if o.PresenceWindow != nil {
		s.PresenceWindow = *o.PresenceWindow
	}
	if o.Dwell != nil {
		s.Dwell = *o.Dwell
	}
	if o.HysteresisDB != nil {
		s.HysteresisDB = *o.HysteresisDB
	}
	if o.LostAfter != nil {
		s.LostAfter = *o.LostAfter
	}
	if o.GateWindow != nil {
		s.GateWindow = *o.GateWindow
	}
	return s
}

// AntennaRef names antennas of one reader; an empty list means all of them.
type AntennaRef struct {
	Reader   string `mapstructure:"reader"`
	Antennas []int  `mapstructure:"antennas"`
}

// Zone is one entry of `zones:`: a gate (with outside and inside antennas) or
// a rack (with its antennas and where it stands).
type Zone struct {
	ID       string       `mapstructure:"id"`
	Kind     string       `mapstructure:"kind"`
	Floor    string       `mapstructure:"floor"`
	Room     string       `mapstructure:"room"`
	Row      string       `mapstructure:"row"`
	Rack     string       `mapstructure:"rack"`
	Outside  []AntennaRef `mapstructure:"outside"`
	Inside   []AntennaRef `mapstructure:"inside"`
	Antennas []AntennaRef `mapstructure:"antennas"`

	// Accept and Ignore filter the reads of this zone's antennas by EPC
	// (internal/gs1 patterns: scheme names, urn:epc:id:... globs, hex
	// prefixes) before the engine sees them; see ReadFilter.
	Accept []string `mapstructure:"accept"`
	Ignore []string `mapstructure:"ignore"`
	// EPCIS is the zone's identity in the EPCIS output; the engine does not
	// use it (internal/epcis checks and uses it).
	EPCIS ZoneEPCIS `mapstructure:"epcis"`

	Overrides `mapstructure:",squash"`
}

// ZoneEPCIS is `zones[].epcis`: the readPoint and bizLocation URIs of the
// zone's EPCIS events (typically SGLNs, urn:epc:id:sgln:...).
type ZoneEPCIS struct {
	ReadPoint   string `mapstructure:"read_point"`
	BizLocation string `mapstructure:"biz_location"`
}

// Location returns where a rack zone stands.
func (z *Zone) Location() *Location {
	return &Location{Zone: z.ID, Floor: z.Floor, Room: z.Room, Row: z.Row, Rack: z.Rack}
}

// Config is what the engine needs: the zones and the default settings.
type Config struct {
	Zones    []Zone
	Settings Settings

	// Accept and Ignore are the gateway-wide read filter (`filter:`),
	// applied before the zones' own; see ReadFilter.
	Accept, Ignore []string

	// KnownReaders, when not nil, are the reader ids of `readers:`; a zone
	// naming another reader is then a config error.
	KnownReaders []string
	// MaxReadAhead, when > 0, bounds how far a read's time may run ahead
	// of the last Tick: a later read counts as happening at that Tick's
	// time + MaxReadAhead (Stats.ReadsClamped counts them). The live daemon,
	// which ticks with the wall clock, should set it (e.g. 2s) so that a
	// reader whose clock runs an hour ahead cannot make every other tag
	// depart. 0 trusts the reads' times, as replay must.
	MaxReadAhead time.Duration
	// Logger receives the engine's rare log lines (reader status changes,
	// reloads, restored state it cannot use); nil means slog.Default().
	Logger *slog.Logger
}
