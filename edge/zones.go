package edge

import (
	"errors"
	"fmt"
	"time"

	"github.com/rfidgw/rfidgw/internal/gs1"
)

// Limits of the configuration, checked by Config.Validate.
const (
	// MaxMinReads is the largest min_reads: the engine keeps the times of the
	// last MaxMinReads reads per (tag, zone) so that presence is exact.
	MaxMinReads = 7
	// MaxPresenceWindow bounds presence_window (read times are kept to the
	// millisecond in 16 bits).
	MaxPresenceWindow = 60 * time.Second
	// MaxDwell, MaxLostAfter and MaxGateWindow bound the other durations:
	// far above any floor's needs, and far below where times overflow.
	MaxDwell      = 24 * time.Hour
	MaxLostAfter  = 7 * 24 * time.Hour
	MaxGateWindow = time.Hour
	// MaxZones bounds the number of zones.
	MaxZones = 32767
	// MaxAntenna is the largest antenna number a zone may name.
	MaxAntenna = 4096
	// MaxPatterns bounds each accept and ignore list.
	MaxPatterns = 256
)

// Validate checks the zones and settings and returns every problem found,
// joined, each a *ConfigError naming its key path (e.g.
// `zones[3].outside[0].reader: unknown reader "dock-2"`). It returns nil for
// a usable config.
func (c Config) Validate() error {
	_, err := compile(c)
	return err
}

// side of a zone a read came from.
const (
	sideRack    uint8 = 0
	sideOutside uint8 = 1
	sideInside  uint8 = 2
)

// route is where reads of one (reader, antenna) go.
type route struct {
	zone int32 // index into zones; -1 = no zone
	side uint8 // sideRack, sideOutside or sideInside
	rbit uint8 // index of the reader in the zone's reader list (evidence)
}

var noRoute = route{zone: -1}

// routeTable maps one reader's antennas to zones.
type routeTable struct {
	byAntenna []route // index = antenna number
	all       route   // for a zone that takes every antenna of the reader
	claim     []string
	allClaim  string
}

// zoneState is a compiled zone: its settings resolved to the units the engine
// works in, and what the engine tracks about its readers.
type zoneState struct {
	id      string
	gate    bool
	loc     Location
	set     Settings
	minRSSI float64
	minRead int
	window  int64 // ns
	dwell   int64
	lost    int64
	gw      int64
	hyst    float64
	tau     float64 // ns, RSSI smoothing time constant

	readerIDs []string       // distinct, in config order; evidence masks index it
	readers   []*readerState // filled by the engine
	offline   int            // how many of readers are offline
	// onlineSince is the latest time one of its readers came back online;
	// silence before it does not count towards lost_after.
	onlineSince int64
}

// layout is a compiled Config.
type layout struct {
	zones     []zoneState
	zoneByID  map[string]int32
	routes    map[string]*routeTable
	retention int64 // how long a tag with no rack is kept after its last read
}

func compile(c Config) (*layout, error) {
	var errs []error
	add := func(path, format string, args ...any) {
		errs = append(errs, &ConfigError{Path: path, Msg: fmt.Sprintf(format, args...)})
	}
	checkSettings(add, "edge.", c.Settings, nil)
	gwFilter := checkPatterns(add, "filter", c.Accept, c.Ignore)
	if len(c.Zones) > MaxZones {
		add("zones", "%d zones; at most %d are supported", len(c.Zones), MaxZones)
		return nil, errors.Join(errs...)
	}
	var known map[string]bool
	if c.KnownReaders != nil {
		known = make(map[string]bool, len(c.KnownReaders))
		for _, id := range c.KnownReaders {
			known[id] = true
		}
	}
	l := &layout{
		zones:    make([]zoneState, 0, len(c.Zones)),
		zoneByID: make(map[string]int32, len(c.Zones)),
		routes:   make(map[string]*routeTable),
	}
	for i := range c.Zones {
		z := &c.Zones[i]
		p := fmt.Sprintf("zones[%d]", i)
		if z.ID == "" {
			add(p+".id", "missing; every zone needs a unique id")
		} else if j, dup := l.zoneByID[z.ID]; dup {
			add(p+".id", "%q is already the id of zones[%d]", z.ID, j)
		}
		s := z.Overrides.Apply(c.Settings)
		checkSettings(add, p+".", s, &z.Overrides)
		if zf := checkPatterns(add, p, z.Accept, z.Ignore); zf != nil {
			for _, pat := range gs1.Unreachable(gwFilter, zf) {
				add(p+".accept", "%q can never match: the gateway-wide filter (filter:) lets no such EPC through", pat)
			}
		}
		zs := zoneState{
			id:      z.ID,
			loc:     Location{Zone: z.ID, Floor: z.Floor, Room: z.Room, Row: z.Row, Rack: z.Rack},
			set:     s,
			minRSSI: s.MinRSSI,
			minRead: s.MinReads,
			window:  int64(s.PresenceWindow),
			dwell:   int64(s.Dwell),
			lost:    int64(s.LostAfter),
			gw:      int64(s.GateWindow),
			hyst:    s.HysteresisDB,
			tau:     float64(s.PresenceWindow) / 2,
		}
		idx := int32(len(l.zones))
		switch z.Kind {
		case KindGate:
			zs.gate = true
			if len(z.Outside) == 0 {
				add(p+".outside", "a gate needs outside antennas")
			}
			if len(z.Inside) == 0 {
				add(p+".inside", "a gate needs inside antennas")
			}
			if len(z.Antennas) > 0 {
				add(p+".antennas", "a gate has outside and inside antennas, not antennas")
			}
			l.claim(add, known, &zs, idx, p+".outside", z.Outside, sideOutside)
			l.claim(add, known, &zs, idx, p+".inside", z.Inside, sideInside)
		case KindRack:
			if len(z.Antennas) == 0 {
				add(p+".antennas", "a rack needs antennas")
			}
			if len(z.Outside) > 0 || len(z.Inside) > 0 {
				add(p+".outside", "a rack has antennas, not outside/inside (those are for gates)")
			}
			l.claim(add, known, &zs, idx, p+".antennas", z.Antennas, sideRack)
		case "":
			add(p+".kind", "missing; want gate or rack")
		default:
			add(p+".kind", "unknown kind %q; want gate or rack", z.Kind)
		}
		if z.ID != "" {
			if _, dup := l.zoneByID[z.ID]; !dup {
				l.zoneByID[z.ID] = idx
			}
		}
		l.zones = append(l.zones, zs)
		l.retention = max(l.retention, zs.window, zs.gw)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	l.retention = max(l.retention, int64(c.Settings.PresenceWindow), int64(c.Settings.GateWindow)) + int64(time.Second)
	return l, nil
}

// checkPatterns reports every accept/ignore pattern that is invalid or can
// never match, under path.accept[i] / path.ignore[i], and returns the
// compiled filter (nil when there are none or some are bad).
func checkPatterns(add func(string, string, ...any), path string, accept, ignore []string) *gs1.Filter {
	ok := true
	for _, l := range []struct {
		key  string
		list []string
	}{{"accept", accept}, {"ignore", ignore}} {
		key, list := l.key, l.list
		if len(list) > MaxPatterns {
			add(path+"."+key, "%d patterns; at most %d", len(list), MaxPatterns)
			ok = false
			continue
		}
		for i, s := range list {
			if _, err := gs1.ParsePattern(s); err != nil {
				add(fmt.Sprintf("%s.%s[%d]", path, key, i), "%v", err)
				ok = false
			}
		}
	}
	if !ok {
		return nil
	}
	f, _ := gs1.NewFilter(accept, ignore)
	return f
}

// claim routes the antennas of refs to zone idx, reporting antennas that
// another zone (or this one) already has.
func (l *layout) claim(add func(string, string, ...any), known map[string]bool, zs *zoneState, idx int32, path string, refs []AntennaRef, side uint8) {
	for i, ref := range refs {
		p := fmt.Sprintf("%s[%d]", path, i)
		if ref.Reader == "" {
			add(p+".reader", "missing; name the reader (an id under readers:)")
			continue
		}
		if known != nil && !known[ref.Reader] {
			add(p+".reader", "unknown reader %q", ref.Reader)
			continue
		}
		rbit := -1
		for j, id := range zs.readerIDs {
			if id == ref.Reader {
				rbit = j
			}
		}
		if rbit < 0 {
			rbit = len(zs.readerIDs)
			zs.readerIDs = append(zs.readerIDs, ref.Reader)
		}
		rt := route{zone: idx, side: side, rbit: uint8(min(rbit, 7))}
		tab := l.routes[ref.Reader]
		if tab == nil {
			tab = &routeTable{all: noRoute}
			l.routes[ref.Reader] = tab
		}
		if len(ref.Antennas) == 0 {
			switch {
			case tab.allClaim != "":
				add(p+".antennas", "every antenna of reader %q is already in %s", ref.Reader, tab.allClaim)
			case len(tab.claim) > 0:
				for a, c := range tab.claim {
					if c != "" {
						add(p+".antennas", "empty (= every antenna of reader %q), but antenna %d is already in %s", ref.Reader, a, c)
						break
					}
				}
			default:
				tab.all = rt
				tab.allClaim = fmt.Sprintf("zone %q (%s)", zs.id, p)
			}
			continue
		}
		for k, a := range ref.Antennas {
			ap := fmt.Sprintf("%s.antennas[%d]", p, k)
			if a < 1 || a > MaxAntenna {
				add(ap, "antenna %d is out of range 1..%d", a, MaxAntenna)
				continue
			}
			if tab.allClaim != "" {
				add(ap, "antenna %d of reader %q is already in %s (which takes every antenna)", a, ref.Reader, tab.allClaim)
				continue
			}
			for len(tab.byAntenna) <= a {
				tab.byAntenna = append(tab.byAntenna, noRoute)
				tab.claim = append(tab.claim, "")
			}
			if c := tab.claim[a]; c != "" {
				add(ap, "antenna %d of reader %q is already in %s; an antenna belongs to one zone", a, ref.Reader, c)
				continue
			}
			tab.byAntenna[a] = rt
			tab.claim[a] = fmt.Sprintf("zone %q (%s)", zs.id, ap)
		}
	}
}

// checkSettings reports out-of-range knobs, each with the fix. With o
// set, only the knobs o overrides are checked (the others were checked
// under edge:). Zero is refused where it makes no sense: a zero window,
// dwell, lost_after or gate_window would decide on a single instant.
func checkSettings(add func(string, string, ...any), prefix string, s Settings, o *Overrides) {
	all := o == nil
	if all {
		o = &Overrides{}
	}
	d := DefaultSettings()
	check := func(overridden bool) bool { return all || overridden }
	if check(o.MinRSSI != nil) && !(s.MinRSSI >= -150 && s.MinRSSI <= 0) {
		add(prefix+"min_rssi", "%v dBm is outside -150..0 (RSSI is negative dBm, e.g. %v)", s.MinRSSI, d.MinRSSI)
	}
	if check(o.MinReads != nil) && (s.MinReads < 1 || s.MinReads > MaxMinReads) {
		add(prefix+"min_reads", "%d is outside 1..%d (default %d)", s.MinReads, MaxMinReads, d.MinReads)
	}
	if check(o.PresenceWindow != nil) && (s.PresenceWindow <= 0 || s.PresenceWindow > MaxPresenceWindow) {
		add(prefix+"presence_window", "%v is outside (0s, %v]: set e.g. %v (the default)", s.PresenceWindow, MaxPresenceWindow, d.PresenceWindow)
	}
	switch {
	case !check(o.Dwell != nil):
	case s.Dwell < 0:
		add(prefix+"dwell", "%v is negative: set e.g. %v (the default)", s.Dwell, d.Dwell)
	case s.Dwell == 0:
		add(prefix+"dwell", "0s would move a tag on its first stronger read: set e.g. %v (the default); for quick moves 1s", d.Dwell)
	case s.Dwell > MaxDwell:
		add(prefix+"dwell", "%v is above the maximum %v (default %v)", s.Dwell, MaxDwell, d.Dwell)
	}
	if check(o.HysteresisDB != nil) && !(s.HysteresisDB >= 0 && s.HysteresisDB <= 100) {
		add(prefix+"hysteresis_db", "%v is outside 0..100 dB (default %v)", s.HysteresisDB, d.HysteresisDB)
	}
	if check(o.LostAfter != nil) && s.LostAfter <= 0 {
		add(prefix+"lost_after", "%v must be positive (at 0s a tag departs the moment a read is missing): set e.g. %v (the default)", s.LostAfter, d.LostAfter)
	} else if check(o.LostAfter != nil) && s.LostAfter > MaxLostAfter {
		add(prefix+"lost_after", "%v is above the maximum %v (default %v)", s.LostAfter, MaxLostAfter, d.LostAfter)
	}
	if check(o.GateWindow != nil) && s.GateWindow <= 0 {
		add(prefix+"gate_window", "%v must be positive (it is the time between a gate's two sides): set e.g. %v (the default)", s.GateWindow, d.GateWindow)
	} else if check(o.GateWindow != nil) && s.GateWindow > MaxGateWindow {
		add(prefix+"gate_window", "%v is above the maximum %v (default %v)", s.GateWindow, MaxGateWindow, d.GateWindow)
	}
}
