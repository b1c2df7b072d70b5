package zonepage

import (
	"encoding/json"
	"time"
)

// Model is what the page shows; the gateway implements it. Methods are called
// from HTTP goroutines (together at most once per Options.Interval, and Tag
// at most Options.TagLookupsPerSec times a second), must be safe for
// concurrent use and cheap. The handler never modifies what they return, so
// they may hand out shared data as long as the Model does not change it
// afterwards (a ZoneSnapshot, EventLog slices).
type Model interface {
	// Readers returns every configured reader, in a stable order.
	Readers() []ReaderView
	// Zones returns every configured zone, in config order, with the tags
	// currently in it (all of them: the handler filters and caps).
	Zones() []ZoneView
	// Tag returns one tag's recent reads (bounded, last ~2 minutes), its
	// settled zone and recent events; false if the tag is unknown.
	Tag(epc string) (TagDetail, bool)
	// Events returns up to limit recent events, newest first, each the
	// event JSON of docs/events.md.
	Events(limit int) []json.RawMessage
	// Uplink returns the buffer and Kafka state.
	Uplink() UplinkView
}

// ReaderView is one reader as the page shows it.
type ReaderView struct {
	ID          string        `json:"id"`
	Type        string        `json:"type"` // llrp | serial | mqtt | file
	Connected   bool          `json:"connected"`
	Since       time.Time     `json:"since,omitzero"` // last connection change; zero if unknown
	ReadsPerSec float64       `json:"reads_per_sec"`
	Zones       []string      `json:"zones,omitempty"` // zones fed by all of its antennas
	Antennas    []AntennaView `json:"antennas"`
	// Filtered counts its reads of foreign tags dropped by the read filter
	// (filter: and the zones' accept/ignore) since the gateway started;
	// Filter describes the gateway-wide filter: (empty when none).
	Filtered uint64 `json:"filtered,omitempty"`
	Filter   string `json:"filter,omitempty"`
}

// AntennaView is one antenna port of a reader.
type AntennaView struct {
	Antenna     int      `json:"antenna"` // 1-based port
	ReadsPerSec float64  `json:"reads_per_sec"`
	Zones       []string `json:"zones,omitempty"` // zone ids this antenna feeds (gate sides as "gate-a/inside")
	// Disconnected: the reader reports this antenna disconnected (LLRP
	// AntennaEvent, Zebra heartbeat); its zones count it like an offline
	// reader.
	Disconnected bool `json:"disconnected,omitempty"`
}

// ZoneView is one zone with the tags the engine currently sees in it.
type ZoneView struct {
	ID    string `json:"id"`
	Kind  string `json:"kind"` // gate | rack
	Floor string `json:"floor,omitempty"`
	Room  string `json:"room,omitempty"`
	Row   string `json:"row,omitempty"`
	Rack  string `json:"rack,omitempty"`
	// Accept and Ignore are the zone's read filter (zones[].accept/ignore):
	// reads of other tags on its antennas never reach the engine.
	Accept []string  `json:"accept,omitempty"`
	Ignore []string  `json:"ignore,omitempty"`
	Tags   []ZoneTag `json:"tags"`
	// Settings are the zone's effective edge settings (min_rssi for the
	// plot's line and weak reads, hysteresis_db, dwell); nil if unknown.
	Settings *ZoneSettings `json:"settings,omitempty"`
}

// ZoneTag is one tag seen in a zone.
type ZoneTag struct {
	EPC     string  `json:"epc"`
	RSSI    float64 `json:"rssi"`           // smoothed RSSI in dBm (presence window)
	Reads   int     `json:"reads"`          // racks: in the current run of reads (0 = settled here, not read lately); gates: since the last decision
	Settled bool    `json:"settled"`        // racks: this is the tag's settled rack
	Side    string  `json:"side,omitempty"` // gates: "outside" or "inside"
}

// TagDetail is one tag, for the tag view.
type TagDetail struct {
	EPC            string    `json:"epc"`
	Zone           string    `json:"zone"`                     // settled rack zone; "" = none
	Candidate      string    `json:"candidate,omitempty"`      // rack waiting out its dwell
	CandidateSince time.Time `json:"candidate_since,omitzero"` // zero when no candidate
	LastSeen       time.Time `json:"last_seen,omitzero"`
	// At is "now" on the engine's clock, the right edge of the RSSI plot;
	// set it when that clock is not the wall clock (a replayed file).
	// Zero means the time of the answer.
	At time.Time `json:"at,omitzero"`
	// DwellUntil is when the candidate becomes the settled rack if it
	// stays the candidate (CandidateSince + its dwell); zero without one.
	DwellUntil time.Time `json:"dwell_until,omitzero"`
	// Decision says in one line why the tag is where it is.
	Decision string            `json:"decision,omitempty"`
	Zones    []TagZone         `json:"zones"`  // what the engine weighs, per zone
	Reads    []TagRead         `json:"reads"`  // recent reads, oldest first, bounded
	Events   []json.RawMessage `json:"events"` // recent events of this tag, newest first
}

// TagZone is the engine's view of a tag in one zone: why it did or did not
// move.
type TagZone struct {
	Zone     string  `json:"zone"`
	Side     string  `json:"side,omitempty"` // gates: "outside" or "inside"
	Present  bool    `json:"present"`        // min_reads within presence_window
	Reads    int     `json:"reads"`          // in the current run of reads (rack) or since the last decision (gate side)
	RSSI     float64 `json:"rssi"`           // smoothed (racks)
	PeakRSSI float64 `json:"peak_rssi"`

	// Racks: the decision in numbers. Role is settled, candidate, weaker
	// or not_present; MarginDB is the smoothed RSSI minus what it must
	// reach to move the tag (the settled rack's smoothed RSSI plus this
	// zone's hysteresis_db): negative is the margin still needed, and 0
	// when the settled rack is not present (nothing to beat) or this is it.
	Role         string  `json:"role,omitempty"`
	MarginDB     float64 `json:"margin_db"`
	Explain      string  `json:"explain,omitempty"`
	MinRSSI      float64 `json:"min_rssi,omitempty"`
	MinReads     int     `json:"min_reads,omitempty"`
	HysteresisDB float64 `json:"hysteresis_db,omitempty"`
	Dwell        float64 `json:"dwell_s,omitempty"`
}

// TagRead is one recent read of a tag.
type TagRead struct {
	Time    time.Time `json:"time"`
	Reader  string    `json:"reader"`
	Antenna int       `json:"antenna"`
	RSSI    float64   `json:"rssi"`            // dBm; the mean when Count > 1
	Count   int       `json:"count,omitempty"` // reads merged into this point (ReadStats merges per second)
}

// Clock is the time the gateway works on: the wall clock, or the recorded
// time of a reads file it plays. The page shows this one clock.
type Clock struct {
	Now      time.Time `json:"now"`
	Recorded bool      `json:"recorded"` // playing a reads file: recorded time
}

// ClockModel is implemented by a Model whose clock may not be the wall
// clock (a gateway playing a reads file). Without it the page shows the
// handler's clock.
type ClockModel interface {
	Clock() Clock
}

// UplinkView is the buffer and Kafka state.
type UplinkView struct {
	Pending        int64   `json:"pending"`     // events in the buffer, not yet acknowledged
	Bytes          int64   `json:"bytes"`       // their payload bytes
	LagSeconds     float64 `json:"lag_seconds"` // age of the oldest undelivered event
	KafkaConnected bool    `json:"kafka_connected"`
	Delivered      uint64  `json:"delivered"` // events Kafka acknowledged since start
	Dropped        uint64  `json:"dropped"`   // events dropped because the buffer was full
	LastError      string  `json:"last_error,omitempty"`
}
